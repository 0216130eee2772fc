// A second process for the shared-counter tests on every system (on Windows there is no fork):
// attaches to a SharedCounter by name, draws `count` values and writes them to a file.
//
//   region_child NAME COUNT OUT
#include <atomic_counter/shared_counter.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <vector>

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: region_child NAME COUNT OUT\n");
        return 2;
    }
    try {
        atomic_counter::shared_counter counter(argv[1]);
        std::vector<std::uint64_t> values(std::strtoull(argv[2], nullptr, 10));
        for (auto& v : values) {
            v = counter.next();
        }
        std::FILE* out = std::fopen(argv[3], "wb");
        if (out == nullptr || std::fwrite(values.data(), sizeof(std::uint64_t), values.size(),
                                          out) != values.size()) {
            return 3;
        }
        std::fclose(out);
    } catch (std::exception const& e) {
        std::fprintf(stderr, "region_child: %s\n", e.what());
        return 1;
    }
    return 0;
}
