// bindings/common.hpp: what every type of atomic_counter._core shares: owned references, the one
// translation of C++ exceptions into Python exceptions, argument conversion that names the
// argument and its range, and the draws every counter type offers. Included only by the
// extension's own sources, after Python.h.
#ifndef ATOMIC_COUNTER_BINDINGS_COMMON_HPP
#define ATOMIC_COUNTER_BINDINGS_COMMON_HPP

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#if !defined(_WIN32)
#include <pthread.h>
#endif

#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>

namespace atomic_counter::python {

// ---------------------------------------------------------------------------------------------
// Small helpers: owned references, C++ exceptions to Python exceptions, argument conversion.

// An owned reference, released on scope exit unless handed over with release().
class owned {
public:
    explicit owned(PyObject* p = nullptr) noexcept : p_(p) {}
    owned(owned const&) = delete;
    owned& operator=(owned const&) = delete;
    ~owned() { Py_XDECREF(p_); }
    PyObject* get() const noexcept { return p_; }
    // Takes ownership of p, releasing what was held.
    void reset(PyObject* p) noexcept {
        Py_XDECREF(p_);
        p_ = p;
    }
    PyObject* release() noexcept {
        PyObject* p = p_;
        p_ = nullptr;
        return p;
    }
    explicit operator bool() const noexcept { return p_ != nullptr; }

private:
    PyObject* p_;
};

// Where a call came from, as the Python user wrote it: a type and a method ("Counter", "next":
// "Counter.next()"), a type's constructor ("Counter", "": "Counter()"), or a whole name
// ("format_id()"). Every message names the call this way; it is built only when one is.
struct where {
    char const* type;
    char const* method = nullptr;  // nullptr: `type` is the whole name

    where(char const* whole) noexcept : type(whole) {}  // NOLINT(google-explicit-constructor)
    where(char const* type_name, char const* method_name) noexcept
        : type(type_name), method(method_name) {}

    // "Counter.next()"; with a subject (a region's name, quoted): "SharedCounter('x').next()".
    std::string text(std::string const& subject = std::string()) const {
        if (method == nullptr) {
            return type;
        }
        std::string out = type;
        if (!subject.empty() || *method == '\0') {
            out += "(" + subject + ")";
        }
        if (*method != '\0') {
            out += std::string(".") + method + "()";
        }
        return out;
    }
};

// The C++ core names its own API in messages ("atomic_counter::counter::set: val ..."); a Python
// user sees the Python call instead ("Counter.set(): val ..."). A region's name after the API
// ("atomic_counter::shared_counter 'orders': ...") moves into the call:
// "SharedCounter('orders'): ..." or "SharedCounter('orders').next(): ...".
inline std::string python_message(std::string const& what, where const& call) {
    static constexpr char prefix[] = "atomic_counter::";
    constexpr std::size_t prefix_size = sizeof prefix - 1;
    if (what.compare(0, prefix_size, prefix) != 0) {
        return what;
    }
    std::size_t end = prefix_size;  // past "atomic_counter::a::b", not the ':' after it
    while (end < what.size()) {
        if (std::isalnum(static_cast<unsigned char>(what[end])) != 0 || what[end] == '_') {
            ++end;
        } else if (what.compare(end, 2, "::") == 0) {
            end += 2;
        } else {
            break;
        }
    }
    std::string rest = what.substr(end);
    if (call.method != nullptr && rest.size() > 2 && rest[0] == ' ' && rest[1] == '\'') {
        const std::size_t close = rest.find('\'', 2);
        if (close != std::string::npos) {
            const std::string subject = rest.substr(1, close);  // 'orders', quotes included
            return call.text(subject) + rest.substr(close + 1);
        }
    }
    return call.text() + rest;
}

// Translates the exception being handled into a Python exception, its message naming the
// Python call instead of the C++ API, and returns nullptr. Call only from a catch block. The
// mapping is the one nanobind's tests pin.
inline PyObject* set_python_error(where const& call) noexcept {
    try {
        throw;
    } catch (std::invalid_argument const& e) {
        PyErr_SetString(PyExc_ValueError, python_message(e.what(), call).c_str());
    } catch (std::domain_error const& e) {
        PyErr_SetString(PyExc_ValueError, python_message(e.what(), call).c_str());
    } catch (std::overflow_error const& e) {
        PyErr_SetString(PyExc_OverflowError, python_message(e.what(), call).c_str());
    } catch (std::system_error const& e) {
        owned args(Py_BuildValue("(is)", e.code().value(), python_message(e.what(), call).c_str()));
        if (args) {
            PyErr_SetObject(PyExc_OSError, args.get());
        }
    } catch (std::bad_alloc const&) {
        PyErr_NoMemory();
    } catch (std::exception const& e) {
        PyErr_SetString(PyExc_RuntimeError, python_message(e.what(), call).c_str());
    } catch (...) {
        PyErr_Format(PyExc_RuntimeError, "%s: unknown C++ exception", call.text().c_str());
    }
    return nullptr;
}

// The name of an object's type, for "must be an int, not str" (a new reference, or nullptr with
// an exception set).
inline PyObject* type_name_of(PyObject* obj) {
    return PyObject_GetAttrString(reinterpret_cast<PyObject*>(Py_TYPE(obj)), "__name__");
}

inline constexpr char const* u64_range = "[0, 2**64 - 1]";

// Converts an int-like object (int, bool or anything with __index__) to uint64. On failure sets
// TypeError (not an integer) or OverflowError (negative or above 2**64 - 1), naming the function,
// the argument and its range (`range`, for an argument narrower than uint64: the caller checks
// the top), and returns false. Never wraps.
inline bool to_u64(PyObject* obj, where const& call, char const* arg, std::uint64_t* out,
                   char const* range = u64_range) {
    if (PyLong_Check(obj) == 0 && PyIndex_Check(obj) == 0) {
        owned type_name(type_name_of(obj));
        if (type_name) {
            PyErr_Format(PyExc_TypeError, "%s argument '%s' must be an int in %s, not %U",
                         call.text().c_str(), arg, range, type_name.get());
        }
        return false;
    }
    owned index(PyNumber_Index(obj));
    if (!index) {
        return false;  // __index__ raised: keep its exception
    }
    const unsigned long long value = PyLong_AsUnsignedLongLong(index.get());
    if (value == static_cast<unsigned long long>(-1) && PyErr_Occurred() != nullptr) {
        if (PyErr_ExceptionMatches(PyExc_OverflowError) == 0) {
            return false;
        }
        PyErr_Clear();
        owned zero(PyLong_FromLong(0));
        if (!zero) {
            return false;
        }
        const int negative = PyObject_RichCompareBool(index.get(), zero.get(), Py_LT);
        if (negative < 0) {
            return false;
        }
        PyErr_Format(PyExc_OverflowError, "%s argument '%s' must be in %s, got %s",
                     call.text().c_str(), arg, range,
                     negative != 0 ? "a negative int" : "an int above 2**64 - 1");
        return false;
    }
    *out = value;
    return true;
}

// Optional variant: None leaves *out empty.
inline bool to_optional_u64(PyObject* obj, where const& call, char const* arg,
                            std::optional<std::uint64_t>* out) {
    if (obj == nullptr || obj == Py_None) {
        out->reset();
        return true;
    }
    std::uint64_t value = 0;
    if (!to_u64(obj, call, arg, &value)) {
        return false;
    }
    *out = value;
    return true;
}

// Binds vectorcall arguments to `count` named parameters, positionally or by keyword, as Python
// functions do. Unfilled parameters are left as nullptr; the first `required` must be filled.
inline bool bind_arguments(where const& call, PyObject* const* args, Py_ssize_t nargs,
                           PyObject* kwnames, char const* const* names, Py_ssize_t count,
                           Py_ssize_t required, PyObject** out) {
    if (nargs > count) {
        PyErr_Format(PyExc_TypeError, "%s takes at most %zd argument%s (%zd given)",
                     call.text().c_str(), count, count == 1 ? "" : "s", nargs);
        return false;
    }
    for (Py_ssize_t i = 0; i < count; ++i) {
        out[i] = i < nargs ? args[i] : nullptr;
    }
    const Py_ssize_t nkw = kwnames == nullptr ? 0 : PyTuple_Size(kwnames);
    for (Py_ssize_t k = 0; k < nkw; ++k) {
        PyObject* key = PyTuple_GetItem(kwnames, k);
        Py_ssize_t slot = -1;
        for (Py_ssize_t i = 0; i < count; ++i) {
            if (PyUnicode_CompareWithASCIIString(key, names[i]) == 0) {
                slot = i;
                break;
            }
        }
        if (slot < 0) {
            PyErr_Format(PyExc_TypeError, "%s got an unexpected keyword argument '%U'",
                         call.text().c_str(), key);
            return false;
        }
        if (out[slot] != nullptr) {
            PyErr_Format(PyExc_TypeError, "%s got multiple values for argument '%s'",
                         call.text().c_str(), names[slot]);
            return false;
        }
        out[slot] = args[nargs + k];
    }
    for (Py_ssize_t i = 0; i < required; ++i) {
        if (out[i] == nullptr) {
            PyErr_Format(PyExc_TypeError, "%s missing required argument '%s' (pos %zd)",
                         call.text().c_str(), names[i], i + 1);
            return false;
        }
    }
    return true;
}

// One int argument of a fastcall method (set(val), advance_to(value), to_datetime(value)),
// positional or by keyword.
inline bool one_u64_argument(where const& call, char const* arg, PyObject* const* args,
                             Py_ssize_t nargs, PyObject* kwnames, std::uint64_t* out) {
    char const* const names[] = {arg};
    PyObject* obj = nullptr;
    return bind_arguments(call, args, nargs, kwnames, names, 1, 1, &obj) &&
           to_u64(obj, call, arg, out);
}

// For the in-process counters (Counter, TimeCounter): their single draws run with the GIL held
// from start to end, which already serialises all Python callers of one counter, so the cores'
// exclusive draws (a plain load and store) are exactly as safe as their atomic ones and about
// 6 ns cheaper. A free-threaded build has no such exclusion and takes the atomic path. The bulk
// draws stay atomic either way (one compare-exchange per block). The shared counters never use
// this: other processes draw from the same value, and their msync runs without the GIL.
template <class Counter>
std::uint64_t draw_one(Counter& counter) {
#ifdef Py_GIL_DISABLED
    return counter.next();
#else
    return counter.next_exclusive();
#endif
}

// ---------------------------------------------------------------------------------------------
// fork(): a count of the forks this process descends from, raised in the child by a
// pthread_atfork handler (installed once by the module), so that a counter can tell in one load
// whether it was copied into a child since it last looked.

inline std::atomic<unsigned long> fork_generation{0};

inline void install_fork_handler() {
#if !defined(_WIN32)
    static bool installed = false;
    if (!installed) {
        installed = true;
        // Relaxed: the child runs this alone, before any of its threads exist.
        pthread_atfork(nullptr, nullptr,
                       [] { fork_generation.fetch_add(1, std::memory_order_relaxed); });
    }
#endif
}

// Relaxed: only the forking thread of a new child writes it, before anything else runs there.
inline unsigned long current_fork_generation() noexcept {
    return fork_generation.load(std::memory_order_relaxed);
}

// ---------------------------------------------------------------------------------------------
// Blocking calls: the cores run an msync, or a wait for another process to finish creating a
// region, through this runner, which lets other Python threads run meanwhile. No Python object
// is touched inside `call`.
// Set while this thread runs C++ with the GIL already released (a shared counter's constructor).
inline thread_local bool gil_released = false;

inline void run_without_gil(void (*call)(void*), void* context) {
    if (gil_released) {
        call(context);
        return;
    }
    PyThreadState* saved = PyEval_SaveThread();
    try {
        call(context);
    } catch (...) {
        PyEval_RestoreThread(saved);
        throw;
    }
    PyEval_RestoreThread(saved);
}

inline void free_object_memory(PyObject* self) {
    PyTypeObject* type = Py_TYPE(self);
    auto free_fn = reinterpret_cast<freefunc>(PyType_GetSlot(type, Py_tp_free));
    free_fn(self);
    Py_DECREF(type);  // heap-type instances own a reference to their type
}

// A METH_FASTCALL (or METH_O ...) function as the PyCFunction a PyMethodDef holds; CPython
// calls it with the signature its flags name.
template <class Function>
PyCFunction as_cfunction(Function* function) noexcept {
    return reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(function));
}

// The names the bulk calls (bulk.hpp) pass to CPython, made once per module (in its state, by
// _core.cpp): building them on every call (PyObject_CallMethod(view, "cast", "s", "Q"),
// PyObject_GetAttrString(view, "format")) was more than half of next_many(0)'s time.
struct bulk_names {
    PyObject* cast;    // "cast"
    PyObject* uint64;  // "Q"
    PyObject* int64;   // "q"
    PyObject* format;  // "format"
};
// The names of the extension's module `module`.
bulk_names const& bulk_names_of(PyObject* module);

// Layout.decode_many's columns (layout.cpp): atomic_counter._core._decode_many.
PyObject* decode_many(PyObject* module, PyObject* const* args, Py_ssize_t nargs);

// The spec of a type defined in another source file of the extension.
PyType_Spec* shared_counter_spec();
PyType_Spec* shared_time_counter_spec();
PyType_Spec* snowflake_counter_spec();
PyType_Spec* segment_counter_spec();

}  // namespace atomic_counter::python

#endif  // ATOMIC_COUNTER_BINDINGS_COMMON_HPP
