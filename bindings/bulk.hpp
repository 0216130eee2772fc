// bindings/bulk.hpp: the buffers of the bulk calls, every counter's next_many(n, out=None) and
// Layout.decode_many(ids, out=None): the count argument, fresh buffers for results, the caller's
// buffers for out=, and the writing, which runs without the GIL when it is long. Included by
// methods.hpp and layout.cpp, after common.hpp.
//
// Fresh buffers. next_many(n) returns a memoryview of format 'Q' (or 'q') over a bytearray of 8n
// bytes, which numpy.asarray() wraps without a copy. Its memory is the bytearray's
// (PyObject_Malloc, so tracemalloc sees it, and freeing the array frees it: glibc unmaps blocks
// of 32 MiB and more at once and keeps smaller ones for reuse, as it does numpy's). From 4 MiB on,
// numpy's own threshold, the memory is advised into transparent huge pages before the first write,
// as numpy does for its arrays: where the kernel gives them only on request
// (/sys/kernel/mm/transparent_hugepage/enabled = madvise, most distributions' default), fresh
// memory otherwise takes a page fault per 4 KiB, which made next_many(10 M) 5x slower than
// numpy's fill of the same array.
//
// The caller's buffers (out=). The Limited API has the buffer protocol (Py_buffer,
// PyObject_GetBuffer) only from 3.11, and the wheel is abi3 for 3.10. Built for 3.10's Limited
// API, a buffer is acquired as a memoryview (PyMemoryView_FromObject): the memoryview holds the
// exporter's buffer for as long as it lives, so a bytearray cannot be resized, nor an array's
// memory freed, while ids are written into it. Its address comes from PyObject_AsWriteBuffer or
// PyObject_AsReadBuffer called on the memoryview itself, which take and release only the
// memoryview's own nested export: functions of the stable ABI since 3.2, exported by every
// CPython 3 (python3.dll included) though the headers stopped declaring them in 3.13, so they
// are declared here. Built for 3.11's Limited API or for the full API (the free-threaded wheels),
// PyObject_GetBuffer. Both read the same facts (caller_buffer: address, length, item format,
// read-only, C-contiguous) and go through the same checks (acquire_ids).
#ifndef ATOMIC_COUNTER_BINDINGS_BULK_HPP
#define ATOMIC_COUNTER_BINDINGS_BULK_HPP

#include "common.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#if defined(Py_LIMITED_API) && Py_LIMITED_API + 0 < 0x030B0000
#define ATOMIC_COUNTER_BUFFER_THROUGH_MEMORYVIEW 1
#if PY_VERSION_HEX >= 0x030D0000  // headers from 3.13 on no longer declare them
extern "C" {
PyAPI_FUNC(int) PyObject_AsReadBuffer(PyObject* obj, void const** buffer, Py_ssize_t* length);
PyAPI_FUNC(int) PyObject_AsWriteBuffer(PyObject* obj, void** buffer, Py_ssize_t* length);
}
#endif
#endif

namespace atomic_counter::python {

// ---------------------------------------------------------------------------------------------
// The count: n ids, n * 8 bytes within a Py_ssize_t.

inline constexpr std::uint64_t max_bulk = static_cast<std::uint64_t>(PY_SSIZE_T_MAX) / 8;
// max_bulk + 1 is a power of two: "[0, 2**60 - 1]" on 64-bit platforms.
inline std::string const& max_bulk_range() {
    static const std::string text = [] {
        int bits = 0;
        while ((max_bulk >> bits) != 0) {
            ++bits;
        }
        return "[0, 2**" + std::to_string(bits) + " - 1]";
    }();
    return text;
}

// Converts next_many()'s n; false with TypeError or OverflowError set, naming the range.
inline bool to_bulk_count(PyObject* obj, where const& call, std::uint64_t* n) {
    if (!to_u64(obj, call, "n", n, max_bulk_range().c_str())) {
        return false;
    }
    if (*n > max_bulk) {
        PyErr_Format(PyExc_OverflowError, "%s argument 'n' must be in %s, got %llu",
                     call.text().c_str(), max_bulk_range().c_str(),
                     static_cast<unsigned long long>(*n));
        return false;
    }
    return true;
}

// ---------------------------------------------------------------------------------------------
// Writing without the GIL.

// Writes of at least this many bytes run with the GIL released: about 0.1 ms of work, against
// the fraction of a microsecond that releasing and taking it back costs.
inline constexpr std::size_t unlocked_write_bytes = std::size_t{1} << 20;

// Runs write() (which touches no Python object and throws nothing) without the GIL when it moves
// `bytes` bytes or more.
template <class Write>
void write_out(std::size_t bytes, Write&& write) noexcept {
    if (bytes < unlocked_write_bytes) {
        write();
        return;
    }
    Py_BEGIN_ALLOW_THREADS write();
    Py_END_ALLOW_THREADS
}

// ---------------------------------------------------------------------------------------------
// Fresh buffers.

// Asks the kernel for transparent huge pages over [data, data + bytes), which nothing has touched
// yet. Advice only: where there is no such thing, or the kernel declines, the memory is as it was.
inline void advise_huge_pages(void* data, std::size_t bytes) noexcept {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    constexpr std::size_t threshold = std::size_t{4} << 20, page = 4096;
    if (bytes < threshold) {
        return;
    }
    // From the first page boundary in the block (madvise takes page-aligned addresses).
    const std::size_t skip = (page - reinterpret_cast<std::uintptr_t>(data) % page) % page;
    (void)madvise(static_cast<char*>(data) + skip, bytes - skip, MADV_HUGEPAGE);
#else
    (void)data;
    (void)bytes;
#endif
}

// A bytearray of n uint64 slots for `call` (huge pages when large), or nullptr with MemoryError
// naming the call and the size asked for.
inline PyObject* new_id_bytes(where const& call, std::uint64_t n) {
    const auto bytes = static_cast<Py_ssize_t>(n * 8);
    // Grown from empty: PyByteArray_FromStringAndSize frees a bytearray whose allocation failed
    // before it has set its export count, which CPython (3.11 at least) then reports on stderr
    // ("SystemError: deallocated bytearray object has exported buffers"). A resize from 0
    // allocates exactly bytes + 1 (a major upsize is not over-allocated).
    owned array(PyByteArray_FromStringAndSize(nullptr, 0));
    if (!array) {
        return nullptr;
    }
    if (PyByteArray_Resize(array.get(), bytes) < 0) {
        if (PyErr_ExceptionMatches(PyExc_MemoryError) != 0) {
            PyErr_Clear();
            PyErr_Format(PyExc_MemoryError,
                         "%s: cannot allocate %zd bytes for n = %llu ids; draw them in smaller "
                         "blocks, or into a buffer of your own with out=",
                         call.text().c_str(), bytes, static_cast<unsigned long long>(n));
        }
        return nullptr;
    }
    // The bytearray's storage comes from PyObject_Malloc: at least 8-byte aligned.
    advise_huge_pages(PyByteArray_AsString(array.get()), static_cast<std::size_t>(bytes));
    return array.release();
}

// The memoryview of format `item` ('Q' uint64, 'q' int64) over a bytearray of ids.
inline PyObject* id_view(PyObject* bytes, char item, bulk_names const& names) {
    owned view(PyMemoryView_FromObject(bytes));
    if (!view) {
        return nullptr;
    }
    return PyObject_CallMethodObjArgs(view.get(), names.cast,
                                      item == 'q' ? names.int64 : names.uint64, nullptr);
}

// ---------------------------------------------------------------------------------------------
// The caller's buffers.

// What the items of a buffer are, from its struct format: 64-bit integers (unsigned or signed),
// bytes (one-byte items of any kind: the ids are written as 8 bytes each), or something else
// (another type, width or a foreign byte order).
enum class item_type { other, bytes, int64, uint64 };

inline item_type item_type_of(char const* format) noexcept {
    if (format == nullptr) {
        return item_type::bytes;  // the buffer protocol's "unsigned bytes"
    }
    const std::uint16_t probe = 1;
    const bool little = *reinterpret_cast<unsigned char const*>(&probe) == 1;
    bool native_sizes = true, native_order = true;
    switch (*format) {
    case '@':
        ++format;
        break;
    case '=':
        native_sizes = false;
        ++format;
        break;
    case '<':
        native_sizes = false;
        native_order = little;
        ++format;
        break;
    case '>':
    case '!':
        native_sizes = false;
        native_order = !little;
        ++format;
        break;
    default:
        break;
    }
    if (format[0] == '\0' || format[1] != '\0') {
        return item_type::other;  // none, or several items (a struct)
    }
    std::size_t width = 0;
    switch (format[0]) {
    case 'B':
    case 'b':
    case 'c':
        return item_type::bytes;
    case 'q':
    case 'Q':
        width = 8;
        break;
    case 'l':
    case 'L':
        width = native_sizes ? sizeof(long) : 4;
        break;
    default:
        return item_type::other;
    }
    if (width != 8 || !native_order) {
        return item_type::other;
    }
    return format[0] == 'q' || format[0] == 'l' ? item_type::int64 : item_type::uint64;
}

// How a buffer is used: written (out=) or only read (decode_many's ids).
enum class access { read, write };

// A buffer the caller owns, held from acquire() until this object is destroyed: its memory stays
// where it is and the size it has for that long.
class caller_buffer {
public:
    caller_buffer() = default;
    caller_buffer(caller_buffer const&) = delete;
    caller_buffer& operator=(caller_buffer const&) = delete;
    ~caller_buffer() { release(); }

    // Acquires obj's buffer. false with the exporter's exception set when obj has none (or
    // refuses it); otherwise the facts below describe it, nothing checked yet.
    bool acquire(PyObject* obj, access how, bulk_names const& names) {
        release();
        obj_ = obj;
#if defined(ATOMIC_COUNTER_BUFFER_THROUGH_MEMORYVIEW)
        view_.reset(PyMemoryView_FromObject(obj));
        if (!view_) {
            return false;
        }
        owned format(PyObject_GetAttr(view_.get(), names.format));
        char const* text = format ? PyUnicode_AsUTF8AndSize(format.get(), nullptr) : nullptr;
        if (text == nullptr) {
            return false;
        }
        format_ = text;
        // The address, through the memoryview's own export (C-contiguous buffers only: anything
        // else fails here and is told apart below; a writable export fails for a read-only one).
        Py_ssize_t length = 0;
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#endif
        int status = 0;
        if (how == access::write) {
            status = PyObject_AsWriteBuffer(view_.get(), &data_, &length);
        } else {
            void const* data = nullptr;
            status = PyObject_AsReadBuffer(view_.get(), &data, &length);
            data_ = const_cast<void*>(data);
        }
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
        if (status == 0) {
            bytes_ = length;
            readonly_ = how == access::read;  // only a writable buffer gives a writable export
            contiguous_ = true;
            return true;
        }
        // Why it failed, which the checks then report: read-only (for a write), or not
        // C-contiguous. Anything else stands as a failure to acquire.
        PyErr_Clear();
        owned readonly(PyObject_GetAttrString(view_.get(), "readonly"));
        owned contiguous(readonly ? PyObject_GetAttrString(view_.get(), "c_contiguous") : nullptr);
        if (!contiguous) {
            return false;
        }
        readonly_ = PyObject_IsTrue(readonly.get()) == 1;
        contiguous_ = PyObject_IsTrue(contiguous.get()) == 1;
        if (contiguous_ && !(how == access::write && readonly_)) {
            PyErr_SetString(PyExc_BufferError, "the buffer's memory could not be reached");
            return false;
        }
        data_ = nullptr;  // the checks refuse it
        return true;
#else
        (void)how;
        (void)names;
        if (PyObject_GetBuffer(obj, &buffer_, PyBUF_RECORDS_RO) < 0) {
            return false;
        }
        held_ = true;
        data_ = buffer_.buf;
        bytes_ = buffer_.len;
        readonly_ = buffer_.readonly != 0;
        contiguous_ = PyBuffer_IsContiguous(&buffer_, 'C') != 0;
        format_ = buffer_.format == nullptr ? "B" : buffer_.format;
        return true;
#endif
    }

    void* data() const noexcept { return data_; }
    Py_ssize_t bytes() const noexcept { return bytes_; }
    bool readonly() const noexcept { return readonly_; }
    bool contiguous() const noexcept { return contiguous_; }
    std::string const& format() const noexcept { return format_; }
    item_type items() const noexcept { return item_type_of(format_.c_str()); }
    PyObject* object() const noexcept { return obj_; }

    // Lets go of the buffer (the exporter may resize or free it again).
    void release() noexcept {
#if defined(ATOMIC_COUNTER_BUFFER_THROUGH_MEMORYVIEW)
        view_.reset(nullptr);
#else
        if (held_) {
            PyBuffer_Release(&buffer_);
            held_ = false;
        }
#endif
        data_ = nullptr;
    }

private:
#if defined(ATOMIC_COUNTER_BUFFER_THROUGH_MEMORYVIEW)
    owned view_;
#else
    Py_buffer buffer_{};
    bool held_ = false;
#endif
    PyObject* obj_ = nullptr;  // borrowed: the caller's argument outlives the call
    void* data_ = nullptr;
    Py_ssize_t bytes_ = 0;
    bool readonly_ = true;
    bool contiguous_ = false;
    std::string format_;
};

// What a call accepts in a buffer of 64-bit ids: which integer items, named for messages.
struct id_items {
    bool int64;         // signed 64-bit items ('q', and 'l' where long has 64 bits)
    bool uint64;        // unsigned ('Q', 'L')
    char const* names;  // "uint64 items (format 'Q')"
};

inline constexpr id_items uint64_items = {
    false, true, "uint64 items (format 'Q' or 'L': numpy.uint64, array.array('Q'))"};
inline constexpr id_items int64_items = {
    true, true,
    "64-bit integer items (formats 'q', 'Q', 'l', 'L': numpy.int64 or numpy.uint64, "
    "array.array('q'))"};

// Acquires argument `arg` of `call` as a buffer of exactly `count` 64-bit ids (`items`, or bytes,
// 8 per id) and checks it: TypeError for no buffer, other items or (for a write) a read-only one;
// ValueError for one not C-contiguous or of another length. count < 0: any length (it is
// returned in *count).
inline bool acquire_ids(caller_buffer& buffer, PyObject* obj, where const& call, char const* arg,
                        access how, id_items const& items, Py_ssize_t* count,
                        bulk_names const& names) {
    const char* const wanted = how == access::write ? "a writable buffer" : "a buffer";
    if (!buffer.acquire(obj, how, names)) {
        if (PyErr_ExceptionMatches(PyExc_TypeError) == 0 &&
            PyErr_ExceptionMatches(PyExc_ValueError) == 0 &&
            PyErr_ExceptionMatches(PyExc_BufferError) == 0) {
            return false;  // MemoryError and the like stand
        }
        PyErr_Clear();
        owned type_name(type_name_of(obj));
        if (type_name) {
            PyErr_Format(PyExc_TypeError,
                         "%s argument '%s' must be %s of %s or bytes (a numpy array, "
                         "array.array, bytearray or memoryview), not %U",
                         call.text().c_str(), arg, wanted, items.names, type_name.get());
        }
        return false;
    }
    const item_type type = buffer.items();
    if (type == item_type::other || (type == item_type::int64 && !items.int64) ||
        (type == item_type::uint64 && !items.uint64)) {
        PyErr_Format(PyExc_TypeError, "%s argument '%s' must hold %s or bytes, not format '%s'",
                     call.text().c_str(), arg, items.names, buffer.format().c_str());
        return false;
    }
    if (how == access::write && buffer.readonly()) {
        owned type_name(type_name_of(obj));
        if (type_name) {
            PyErr_Format(PyExc_TypeError, "%s argument '%s' must be writable, not a read-only %U",
                         call.text().c_str(), arg, type_name.get());
        }
        return false;
    }
    if (!buffer.contiguous()) {
        PyErr_Format(PyExc_ValueError, "%s argument '%s' must be C-contiguous", call.text().c_str(),
                     arg);
        return false;
    }
    if (buffer.bytes() != 0 && reinterpret_cast<std::uintptr_t>(buffer.data()) % 8 != 0) {
        PyErr_Format(PyExc_ValueError,
                     "%s argument '%s' must start at an address aligned to 8 bytes (a view "
                     "at an offset that is a multiple of 8)",
                     call.text().c_str(), arg);
        return false;
    }
    const Py_ssize_t bytes = buffer.bytes();
    if (*count < 0) {
        if (bytes % 8 != 0) {
            PyErr_Format(PyExc_ValueError,
                         "%s argument '%s' must hold whole ids (8 bytes each), "
                         "not %zd bytes",
                         call.text().c_str(), arg, bytes);
            return false;
        }
        *count = bytes / 8;
    } else if (bytes != *count * 8) {
        PyErr_Format(PyExc_ValueError,
                     "%s argument '%s' must hold exactly %zd ids (%zd bytes), not %zd bytes",
                     call.text().c_str(), arg, *count, *count * 8, bytes);
        return false;
    }
    return true;
}

}  // namespace atomic_counter::python

#endif  // ATOMIC_COUNTER_BINDINGS_BULK_HPP
