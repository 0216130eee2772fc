// format.hpp: ids as fixed-width strings whose order is the ids' order, and back.
#include <atomic_counter/format.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace ac = atomic_counter;

namespace {
constexpr ac::id_format forms[] = {ac::id_format::base32, ac::id_format::base62, ac::id_format::hex,
                                   ac::id_format::decimal};
}

TEST(Format, KnownValues) {
    EXPECT_EQ(ac::format_id(0, ac::id_format::base32), "0000000000000");
    EXPECT_EQ(ac::format_id(~std::uint64_t{0}, ac::id_format::base32), "FZZZZZZZZZZZZ");
    EXPECT_EQ(ac::format_id(~std::uint64_t{0}, ac::id_format::base62), "LygHa16AHYF");
    EXPECT_EQ(ac::format_id(~std::uint64_t{0}, ac::id_format::hex), "ffffffffffffffff");
    EXPECT_EQ(ac::format_id(12345, ac::id_format::base32), "0000000000C1S");
    EXPECT_EQ(ac::format_id(12345, ac::id_format::base62), "000000003D7");
    EXPECT_EQ(ac::format_id(12345, ac::id_format::decimal), "12345");
}

TEST(Format, RoundTripAndOrderOverRandomValues) {
    std::mt19937_64 random(12345);
    std::vector<std::uint64_t> values = {0, 1, 31, 32, 61, 62, ~std::uint64_t{0}};
    for (int i = 0; i < 20000; ++i) {
        values.push_back(random() >> (random() % 64));
    }
    std::sort(values.begin(), values.end());
    for (ac::id_format form : forms) {
        std::string previous;
        for (std::size_t i = 0; i < values.size(); ++i) {
            const std::string text = ac::format_id(values[i], form);
            ASSERT_EQ(ac::parse_id(text, form), values[i]) << text;
            if (form != ac::id_format::decimal) {
                ASSERT_EQ(text.size(), ac::detail::format_width(form));
                if (i > 0 && values[i] != values[i - 1]) {
                    ASSERT_LT(previous, text) << "order broke at " << values[i];
                }
            }
            previous = text;
        }
    }
}

TEST(Format, CrockfordAliasesAndCase) {
    EXPECT_EQ(ac::parse_id("000000000000l", ac::id_format::base32), 1u);
    EXPECT_EQ(ac::parse_id("000000000000I", ac::id_format::base32), 1u);
    EXPECT_EQ(ac::parse_id("000000000000o", ac::id_format::base32), 0u);
    EXPECT_EQ(ac::parse_id("0000000000c1s", ac::id_format::base32), 12345u);
    EXPECT_EQ(ac::parse_id("FFFFFFFFFFFFFFFF", ac::id_format::hex), ~std::uint64_t{0});
}

TEST(Format, MalformedTextIsAnErrorNamingTheForm) {
    const auto message = [](std::string const& text, ac::id_format form) {
        try {
            ac::parse_id(text, form);
        } catch (std::invalid_argument const& e) {
            return std::string(e.what());
        }
        return std::string("(parsed)");
    };
    EXPECT_NE(message("ZZZZZZZZZZZZZ", ac::id_format::base32).find("above 2**64 - 1"),
              std::string::npos);
    EXPECT_NE(message("000000000000U", ac::id_format::base32).find("outside the alphabet"),
              std::string::npos);
    EXPECT_NE(message("123", ac::id_format::base62).find("wrong length"), std::string::npos);
    EXPECT_NE(message("zzzzzzzzzzz", ac::id_format::base62).find("above 2**64 - 1"),
              std::string::npos);
    EXPECT_NE(message("0x00000000000000", ac::id_format::hex).find("outside the alphabet"),
              std::string::npos);
    EXPECT_NE(message("18446744073709551616", ac::id_format::decimal).find("above"),
              std::string::npos);
    EXPECT_NE(message("", ac::id_format::decimal).find("wrong length"), std::string::npos);
    EXPECT_NE(message("-1", ac::id_format::decimal).find("is not a decimal id"), std::string::npos);
}
