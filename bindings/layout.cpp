// atomic_counter._core._decode_many: Layout.decode_many's columns, written in one pass over the
// ids by include/atomic_counter/layout.hpp's layout::decode_many into buffers atomic_counter.layout
// provides (its own numpy arrays, or the caller's out=). The Layout stays a Python class; it
// passes its fields.
#include "bulk.hpp"
#include "common.hpp"

#include <atomic_counter/layout.hpp>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>

namespace atomic_counter::python {

namespace {

namespace ac = atomic_counter;

// [a, a + bytes) and [b, b + bytes) share a byte.
bool overlap(caller_buffer const& a, caller_buffer const& b) {
    const std::less<void const*> below;
    auto const* a_data = static_cast<char const*>(a.data());
    auto const* b_data = static_cast<char const*>(b.data());
    return a.bytes() != 0 && b.bytes() != 0 && below(a_data, b_data + b.bytes()) &&
           below(b_data, a_data + a.bytes());
}

}  // namespace

// _decode_many(ids, times, nodes, sequences, epoch_ns, tick_ns, time_bits, node_bits,
// sequence_bits, positive_int64): decodes the ids (a C-contiguous buffer of 64-bit integers)
// into the three writable buffers of as many 64-bit items (or bytes): times in microseconds since
// 1970, nodes and sequences. Returns None, or NotImplemented when `ids` is not such a buffer
// (atomic_counter.layout then makes it one with numpy). TypeError and ValueError name
// Layout.decode_many() and the argument (out[0], out[1], out[2]); nothing is written on error.
PyObject* decode_many(PyObject* module, PyObject* const* args, Py_ssize_t nargs) {
    const where call("Layout", "decode_many");
    if (nargs != 10) {
        PyErr_Format(PyExc_TypeError, "%s takes 10 arguments (%zd given)", "_decode_many", nargs);
        return nullptr;
    }
    std::uint64_t fields[5] = {};
    char const* const field_names[5] = {"epoch_ns", "tick_ns", "time_bits", "node_bits",
                                        "sequence_bits"};
    for (int i = 0; i < 5; ++i) {
        if (!to_u64(args[4 + i], call, field_names[i], &fields[i])) {
            return nullptr;
        }
    }
    const int positive_int64 = PyObject_IsTrue(args[9]);
    if (positive_int64 < 0) {
        return nullptr;
    }
    bulk_names const& names = bulk_names_of(module);
    caller_buffer ids;
    Py_ssize_t n = -1;
    {
        // An unusable `ids` is left to the caller's numpy conversion.
        if (!ids.acquire(args[0], access::read, names) || ids.items() == item_type::other ||
            ids.items() == item_type::bytes || !ids.contiguous() ||
            (ids.bytes() != 0 && reinterpret_cast<std::uintptr_t>(ids.data()) % 8 != 0) ||
            ids.bytes() % 8 != 0) {
            if (PyErr_Occurred() != nullptr) {
                if (PyErr_ExceptionMatches(PyExc_TypeError) == 0 &&
                    PyErr_ExceptionMatches(PyExc_ValueError) == 0 &&
                    PyErr_ExceptionMatches(PyExc_BufferError) == 0) {
                    return nullptr;
                }
                PyErr_Clear();
            }
            Py_RETURN_NOTIMPLEMENTED;
        }
        n = ids.bytes() / 8;
    }
    caller_buffer out[3];
    char const* const out_names[3] = {"out[0]", "out[1]", "out[2]"};
    for (int i = 0; i < 3; ++i) {
        Py_ssize_t count = n;
        if (!acquire_ids(out[i], args[1 + i], call, out_names[i], access::write, int64_items,
                         &count, names)) {
            return nullptr;
        }
    }
    caller_buffer const* const all[4] = {&ids, &out[0], &out[1], &out[2]};
    for (int i = 0; i < 4; ++i) {
        for (int j = i + 1; j < 4; ++j) {
            if (overlap(*all[i], *all[j])) {
                PyErr_Format(PyExc_ValueError,
                             "%s: the buffers of ids and out must not overlap (%s and %s do)",
                             call.text().c_str(), i == 0 ? "ids" : out_names[i - 1],
                             out_names[j - 1]);
                return nullptr;
            }
        }
    }
    std::exception_ptr failure;
    try {
        const auto bits = [](std::uint64_t b) { return static_cast<unsigned>(b > 64 ? 65 : b); };
        const ac::layout layout(fields[0], fields[1], bits(fields[2]), bits(fields[3]),
                                bits(fields[4]), positive_int64 != 0);
        // Four arrays of n 8-byte items: about 32 bytes moved per id.
        write_out(static_cast<std::size_t>(n) * 32, [&] {
            try {
                layout.decode_many(static_cast<std::uint64_t const*>(ids.data()),
                                   static_cast<std::size_t>(n),
                                   static_cast<std::int64_t*>(out[0].data()),
                                   static_cast<std::uint64_t*>(out[1].data()),
                                   static_cast<std::uint64_t*>(out[2].data()));
            } catch (...) {
                failure = std::current_exception();
            }
        });
        if (failure) {
            std::rethrow_exception(failure);
        }
    } catch (...) {
        return set_python_error(call);
    }
    Py_RETURN_NONE;
}

}  // namespace atomic_counter::python
