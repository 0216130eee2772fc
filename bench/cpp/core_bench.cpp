// The core's draws beside their floors, at 1 and 2 threads sharing one counter.
//   floor/fetch_add        a bare atomic fetch_add: what counter::next could cost at best
//   floor/clock_plus_cas   a CLOCK_REALTIME read plus one compare-exchange: time_counter's floor
#include <atomic_counter/atomic_counter.hpp>

#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>
#include <vector>

namespace {

namespace ac = atomic_counter;

std::atomic<std::uint64_t> bare{0};
ac::counter shared_counter(0, 0);
ac::time_counter shared_time_counter;

void floor_fetch_add(benchmark::State& state) {
    for (auto _ : state) {
        benchmark::DoNotOptimize(bare.fetch_add(1, std::memory_order_relaxed));
    }
}

void floor_clock_plus_cas(benchmark::State& state) {
    const ac::system_clock clock;
    for (auto _ : state) {
        const std::uint64_t now = clock.now_ns();
        std::uint64_t expected = bare.load(std::memory_order_relaxed);
        benchmark::DoNotOptimize(bare.compare_exchange_strong(expected, expected + (now & 1) + 1,
                                                              std::memory_order_relaxed));
    }
}

void counter_next(benchmark::State& state) {
    for (auto _ : state) {
        benchmark::DoNotOptimize(shared_counter.next());
    }
}

void time_counter_next(benchmark::State& state) {
    for (auto _ : state) {
        benchmark::DoNotOptimize(shared_time_counter.next());
    }
}

void counter_next_exclusive(benchmark::State& state) {
    ac::counter own(0, 0);
    for (auto _ : state) {
        benchmark::DoNotOptimize(own.next_exclusive());
    }
}

void counter_next_many(benchmark::State& state) {
    std::vector<std::uint64_t> out(static_cast<std::size_t>(state.range(0)));
    for (auto _ : state) {
        shared_counter.next_many(out.data(), out.size());
        benchmark::DoNotOptimize(out.data());
    }
    state.SetItemsProcessed(state.iterations() * state.range(0));
}

void time_counter_next_many(benchmark::State& state) {
    std::vector<std::uint64_t> out(static_cast<std::size_t>(state.range(0)));
    for (auto _ : state) {
        shared_time_counter.next_many(out.data(), out.size());
        benchmark::DoNotOptimize(out.data());
    }
    state.SetItemsProcessed(state.iterations() * state.range(0));
}

}  // namespace

BENCHMARK(floor_fetch_add)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(counter_next)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(floor_clock_plus_cas)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(time_counter_next)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(counter_next_exclusive);
BENCHMARK(counter_next_many)->Arg(1 << 20);
BENCHMARK(time_counter_next_many)->Arg(1 << 20);

BENCHMARK_MAIN();
