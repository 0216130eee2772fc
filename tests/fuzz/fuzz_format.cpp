// libFuzzer target: any text in any form, and any two ids. Checks: parse_id either throws
// std::invalid_argument or returns the value whose canonical string is the text (upper-cased,
// Crockford's aliases resolved, for base32; lower-cased for hex; without leading zeros for
// decimal); format_id has the form's width and parses back; and the strings of two ids compare
// as text exactly as the ids compare as numbers.
#include <atomic_counter/format.hpp>

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "fuzz_util.hpp"

using fuzz::reader;

namespace {

namespace ac = atomic_counter;

std::string canonical(std::string_view text, ac::id_format form) {
    std::string out(text);
    for (char& c : out) {
        const auto u = static_cast<unsigned char>(c);
        if (form == ac::id_format::base32) {
            c = static_cast<char>(std::toupper(u));
            c = c == 'I' || c == 'L' ? '1' : c == 'O' ? '0' : c;
        } else if (form == ac::id_format::hex) {
            c = static_cast<char>(std::tolower(u));
        }
    }
    if (form == ac::id_format::decimal) {
        const auto first = out.find_first_not_of('0');
        out = first == std::string::npos ? "0" : out.substr(first);
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    reader in{data, size};
    const auto form = static_cast<ac::id_format>(in.u8() % 4);
    const std::uint64_t a = in.u64(), b = in.u64();
    const std::string_view text(reinterpret_cast<char const*>(in.data), in.size);

    try {
        const std::uint64_t value = ac::parse_id(text, form);
        FUZZ_CHECK(ac::format_id(value, form) == canonical(text, form));
    } catch (std::invalid_argument const&) {
        // A valid text never throws: the width is right and every character is in the form.
        bool valid = form == ac::id_format::decimal ? !text.empty() && text.size() <= 20
                                                    : text.size() == ac::detail::format_width(form);
        for (char c : text) {
            valid = valid && ac::detail::digit_value(form, c) >= 0;
        }
        // ... unless the value is above 2^64 - 1, which only a full-width text can spell.
        FUZZ_CHECK(!valid || text.size() >= 11);
    }

    const std::string sa = ac::format_id(a, form), sb = ac::format_id(b, form);
    FUZZ_CHECK(ac::parse_id(sa, form) == a && ac::parse_id(sb, form) == b);
    if (form != ac::id_format::decimal) {
        FUZZ_CHECK(sa.size() == ac::detail::format_width(form));
        FUZZ_CHECK((sa < sb) == (a < b) && (sa == sb) == (a == b));
    }
    return 0;
}
