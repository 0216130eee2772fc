#include <atomic_counter/layout.hpp>
#include <atomic_counter/time_counter.hpp>

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "golden_layouts.hpp"

namespace ac = atomic_counter;

// The C++ presets and packing against tests/golden/layouts.txt, which the Python tests check
// their own against: the two implementations of the id format agree.
TEST(Layout, PresetsAndIdsMatchTheGoldenFile) {
    const std::map<std::string, ac::layout> presets = {{"time_counter", ac::layout::time_counter()},
                                                       {"twitter", ac::layout::twitter()},
                                                       {"discord", ac::layout::discord()},
                                                       {"int64", ac::layout::int64()},
                                                       {"js_safe", ac::layout::js_safe()}};
    std::istringstream file(golden_layouts);
    std::string line;
    int seen_presets = 0, seen_ids = 0;
    while (std::getline(file, line)) {
        std::istringstream fields(line);
        std::string kind, name;
        fields >> kind >> name;
        if (kind == "preset") {
            std::uint64_t epoch_ns = 0, tick_ns = 0;
            unsigned time_bits = 0, node_bits = 0, sequence_bits = 0, positive = 0;
            fields >> epoch_ns >> tick_ns >> time_bits >> node_bits >> sequence_bits >> positive;
            ASSERT_EQ(presets.count(name), 1u) << name;
            const ac::layout& l = presets.at(name);
            EXPECT_EQ(l.epoch_ns(), epoch_ns) << name;
            EXPECT_EQ(l.tick_ns(), tick_ns) << name;
            EXPECT_EQ(l.time_bits(), time_bits) << name;
            EXPECT_EQ(l.node_bits(), node_bits) << name;
            EXPECT_EQ(l.sequence_bits(), sequence_bits) << name;
            EXPECT_EQ(l.positive_int64(), positive != 0) << name;
            ++seen_presets;
        } else if (kind == "id") {
            std::uint64_t ticks = 0, node = 0, sequence = 0, id = 0;
            fields >> ticks >> node >> sequence >> id;
            const ac::layout& l = presets.at(name);
            EXPECT_EQ(l.pack(ticks, node, sequence), id) << line;
            const ac::id_parts parts = l.decode(id);
            EXPECT_EQ(parts.ticks, ticks) << line;
            EXPECT_EQ(parts.node, node) << line;
            EXPECT_EQ(parts.sequence, sequence) << line;
            ++seen_ids;
        }
    }
    EXPECT_EQ(seen_presets, static_cast<int>(presets.size()));  // every preset has a line
    EXPECT_GE(seen_ids, 10);
}

TEST(Layout, TimeCounterPresetIsTheSeedLayout) {
    const ac::layout l = ac::layout::time_counter();
    const std::uint64_t us = 1795662617814075ULL;
    EXPECT_EQ(l.pack(us, 0, 77), ac::time_counter::pack(us, 77));
    const ac::id_parts parts = l.decode(7355034082566451200ULL + 5);
    EXPECT_EQ(parts.ticks, us);
    EXPECT_EQ(parts.node, 0u);
    EXPECT_EQ(parts.sequence, 5u);
    EXPECT_EQ(l.width(), 64u);
    EXPECT_EQ(l.max_id(), ~std::uint64_t{0});
}

TEST(Layout, DiscordsDocumentedExample) {
    // Discord's documentation: 175928847299117063 is 2016-04-30 11:18:25.796 UTC, internal
    // worker 1, internal process 0, increment 7.
    const ac::layout l = ac::layout::discord();
    const ac::id_parts parts = l.decode(175928847299117063ULL);
    EXPECT_EQ(l.epoch_ns() / 1000000 + parts.ticks, 1462015105796ULL);
    EXPECT_EQ(parts.node >> 5, 1u);   // worker
    EXPECT_EQ(parts.node & 31u, 0u);  // process
    EXPECT_EQ(parts.sequence, 7u);
    EXPECT_EQ(l.pack(parts.ticks, parts.node, parts.sequence), 175928847299117063ULL);
}

TEST(Layout, TwitterShape) {
    const ac::layout l = ac::layout::twitter();
    EXPECT_EQ(l.epoch_ns(), 1288834974657ULL * 1000000);
    EXPECT_EQ(l.width(), 63u);
    EXPECT_EQ(l.max_node(), 1023u);
    EXPECT_EQ(l.max_sequence(), 4095u);
    // Golden: 2020-01-01T00:00:00.001Z on node 1, sequence 0, is (ticks << 22) | (1 << 12).
    const std::uint64_t ticks = 1577836800001ULL - 1288834974657ULL;
    EXPECT_EQ(l.pack(ticks, 1, 0), 1212161512047644672ULL);
    EXPECT_EQ(l.decode(1212161512047644672ULL).ticks, ticks);
}

TEST(Layout, Int64AndJsPresetsFitTheirTargets) {
    EXPECT_LE(ac::layout::int64().max_id(), std::uint64_t{0x7FFFFFFFFFFFFFFF});
    EXPECT_EQ(ac::layout::js_safe().max_id(), (std::uint64_t{1} << 53) - 1);
    // int64 stays positive for at least 60 years: 2^41 ms is 69.7 years.
    EXPECT_GE(ac::layout::int64().max_ticks() / 1000 / 86400 / 366, 60u);
}

TEST(Layout, ImpossibleLayoutsAndFieldsAreErrors) {
    EXPECT_THROW(ac::layout(0, 0, 41, 10, 12, true), std::invalid_argument);
    EXPECT_THROW(ac::layout(0, 1, 0, 10, 12, true), std::invalid_argument);
    EXPECT_THROW(ac::layout(0, 1, 42, 10, 12, true), std::invalid_argument);  // 64 > 63
    EXPECT_NO_THROW(ac::layout(0, 1, 42, 10, 12, false));
    const ac::layout l = ac::layout::twitter();
    EXPECT_THROW(l.pack(0, 1024, 0), std::invalid_argument);
    EXPECT_THROW(l.pack(0, 0, 4096), std::invalid_argument);
    EXPECT_THROW(l.pack(std::uint64_t{1} << 41, 0, 0), std::invalid_argument);
    EXPECT_THROW(l.decode(std::uint64_t{1} << 63), std::invalid_argument);
    try {
        l.pack(0, 1024, 0);
    } catch (std::invalid_argument const& e) {
        EXPECT_STREQ(e.what(), "atomic_counter::layout: node must be in [0, 1023], got 1024");
    }
}

TEST(Layout, CompressAndExpandSkipTheNode) {
    const ac::layout l = ac::layout::twitter();
    const std::uint64_t id = l.pack(1000, 513, 4095);
    EXPECT_EQ(l.compress(id), (1000u << 12) | 4095u);
    EXPECT_EQ(l.node_of(id), 513u);
    EXPECT_EQ(l.expand(l.compress(id) + 1, 513), l.pack(1001, 513, 0));
}

// decode_many: the columns equal decode() id by id, the time as Unix microseconds (the start of
// each tick, rounded down), for whole-microsecond and nanosecond ticks and an epoch that is not
// a whole microsecond.
TEST(Layout, DecodeManyEqualsDecodeIdById) {
    for (const ac::layout& l :
         {ac::layout::twitter(), ac::layout::js_safe(), ac::layout::time_counter(),
          ac::layout(1234567, 1, 50, 4, 8, true), ac::layout(999, 7, 40, 0, 23, false)}) {
        std::vector<std::uint64_t> ids = {0, 1, l.max_id(), l.max_id() - 1};
        for (std::uint64_t i = 0; i < 1000; ++i) {
            ids.push_back((i * 0x9E3779B97F4A7C15ULL) & l.max_id());
        }
        std::vector<std::int64_t> us(ids.size());
        std::vector<std::uint64_t> nodes(ids.size()), sequences(ids.size());
        l.decode_many(ids.data(), ids.size(), us.data(), nodes.data(), sequences.data());
        for (std::size_t i = 0; i < ids.size(); ++i) {
            const ac::id_parts parts = l.decode(ids[i]);
            ASSERT_EQ(nodes[i], parts.node);
            ASSERT_EQ(sequences[i], parts.sequence);
            std::uint64_t expected = 0;
            ASSERT_TRUE(l.unix_us_of(parts.ticks, &expected));
            ASSERT_EQ(static_cast<std::uint64_t>(us[i]), expected) << "id " << ids[i];
        }
    }
}

#if defined(__SIZEOF_INT128__)
// unix_us_of against 128-bit arithmetic, near the int64 limit and for ticks whose
// ticks * tick_ns overflows 64 bits.
TEST(Layout, UnixMicrosecondsAreExactAndStopAtTheInt64Limit) {
    __extension__ typedef unsigned __int128 u128;  // GCC and Clang; -Wpedantic knows it so
    const u128 top = static_cast<u128>((std::numeric_limits<std::int64_t>::max)());
    for (const ac::layout& l :
         {ac::layout(~std::uint64_t{0}, 1, 63, 0, 0, true),  // epoch at 2^64 - 1 ns
          ac::layout(999, 1000000999, 62, 1, 1, false),      // 1 s + 999 ns ticks
          ac::layout(0, 1000000000, 60, 2, 2, false), ac::layout::twitter()}) {
        for (std::uint64_t ticks :
             {std::uint64_t{0}, std::uint64_t{999}, std::uint64_t{1000}, l.max_ticks() / 3,
              l.max_ticks() / 1000 * 1000 + 999, l.max_ticks()}) {
            const u128 exact =
                (static_cast<u128>(l.epoch_ns()) + static_cast<u128>(ticks) * l.tick_ns()) / 1000;
            std::uint64_t us = 0;
            ASSERT_EQ(l.unix_us_of(ticks, &us), exact <= top) << ticks;
            if (exact <= top) {
                ASSERT_EQ(us, static_cast<std::uint64_t>(exact)) << ticks;
            }
        }
        // max_decodable_id: the last id of the last tick that fits.
        const std::uint64_t limit = l.max_decodable_id();
        const std::uint64_t last_tick = limit >> (l.node_bits() + l.sequence_bits());
        std::uint64_t us = 0;
        ASSERT_TRUE(l.unix_us_of(last_tick, &us));
        EXPECT_EQ(limit, l.pack(last_tick, l.max_node(), l.max_sequence()));
        if (limit != l.max_id()) {
            EXPECT_FALSE(l.unix_us_of(last_tick + 1, &us));
        }
    }
    EXPECT_EQ(ac::layout::twitter().max_decodable_id(), ac::layout::twitter().max_id());
    EXPECT_LT(ac::layout(0, 1000000000, 60, 2, 2, false).max_decodable_id(),
              ac::layout(0, 1000000000, 60, 2, 2, false).max_id());
}
#endif

// An id above the layout, or past the int64 microsecond range, is refused before anything is
// written, its index and value named.
TEST(Layout, DecodeManyRefusesAnUndecodableIdAndWritesNothing) {
    const ac::layout l = ac::layout::int64();
    std::vector<std::uint64_t> ids = {1, 2, 3, l.max_id(), l.max_id() + 1, 5};
    std::vector<std::int64_t> us(ids.size(), 7);
    std::vector<std::uint64_t> nodes(ids.size(), 7), sequences(ids.size(), 7);
    try {
        l.decode_many(ids.data(), ids.size(), us.data(), nodes.data(), sequences.data());
        ADD_FAILURE() << "no exception";
    } catch (std::invalid_argument const& e) {
        EXPECT_STREQ(e.what(), "atomic_counter::layout::decode_many: ids must be in [0, "
                               "9223372036854775807]; ids[4] is 9223372036854775808 "
                               "(-9223372036854775808 as int64)");
    }
    EXPECT_EQ(us, std::vector<std::int64_t>(ids.size(), 7));
    EXPECT_EQ(nodes, std::vector<std::uint64_t>(ids.size(), 7));
    EXPECT_EQ(sequences, std::vector<std::uint64_t>(ids.size(), 7));

    const ac::layout distant(0, 1000000000, 60, 2, 2,
                             false);  // seconds: past int64 us in 292,277 y
    const std::uint64_t limit = distant.max_decodable_id();
    std::vector<std::uint64_t> late = {limit, limit + 1};
    try {
        distant.decode_many(late.data(), late.size(), us.data(), nodes.data(), sequences.data());
        ADD_FAILURE() << "no exception";
    } catch (std::invalid_argument const& e) {
        EXPECT_NE(std::string(e.what()).find("ids[1] is"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("2**63 - 1 microseconds"), std::string::npos)
            << e.what();
    }
    EXPECT_EQ(us[0], 7);
    distant.decode_many(late.data(), 1, us.data(), nodes.data(), sequences.data());
    EXPECT_EQ(static_cast<std::uint64_t>(us[0]), (limit >> 4) * 1000000);
    EXPECT_NO_THROW(l.decode_many(ids.data(), 0, us.data(), nodes.data(), sequences.data()));
}
