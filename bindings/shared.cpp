// atomic_counter._core's shared-memory types: SharedCounter and SharedTimeCounter, one sequence
// for every process on the host that opens the same name (include/atomic_counter/shared_*.hpp).
//
// Lifetime. Each Python object owns its C++ counter (and so the mapping), which close()
// releases; every method of a closed object raises ValueError, as a closed file does. A method
// reaches the core only through a `pin`, taken after every step that can run Python code
// (argument conversion, which may call __index__; allocation, which may run finalizers) and
// dropped before the result is built. The draws release the GIL around msync, and the
// constructor around the whole open (a wait for another process's creation included), so
// another thread may call close() while a method is inside the core: close() then only marks
// the object closed, and the last pin deletes the core.
//
// Pickling attaches, never creates: the pickle holds the region's absolute path, its id (drawn
// at creation) and its parameters; unpickling opens that same region or raises
// (FileNotFoundError when the name is gone, ValueError when another region now has it).
//
// Unlike Counter, draws are always atomic: other processes share the value, so the GIL excludes
// nothing.
#include "common.hpp"

#include <atomic_counter/shared_counter.hpp>
#include <atomic_counter/shared_time_counter.hpp>

#include <cstdint>
#include <atomic>
#include <exception>
#include <new>
#include <optional>
#include <string>

namespace {

namespace ac = atomic_counter;
using namespace atomic_counter::python;

// Whether an object is closed, and how many calls are inside its core, in one word: bit 0 is
// "closed", the rest counts pins. With the GIL every change happens while it is held, so plain
// reads and writes suffice; a free-threaded build makes each change one atomic operation, so
// that a pin and a close() racing in two threads agree on who deletes the core.
class lifetime {
public:
    // Takes a pin unless the object is closed.
    bool pin() noexcept {
#ifdef Py_GIL_DISABLED
        // Relaxed: the core pointer was published before the object was handed to Python.
        std::uint64_t word = word_.load(std::memory_order_relaxed);
        do {
            if ((word & 1) != 0) {
                return false;
            }
        } while (!word_.compare_exchange_weak(word, word + 2, std::memory_order_acquire,
                                              std::memory_order_relaxed));
        return true;
#else
        if ((word_ & 1) != 0) {
            return false;
        }
        word_ += 2;
        return true;
#endif
    }
    // Drops a pin; true when it was the last one of a closed object (delete the core now).
    bool unpin() noexcept {
#ifdef Py_GIL_DISABLED
        // Acq_rel: the thread that deletes the core sees every use of it by the others.
        return word_.fetch_sub(2, std::memory_order_acq_rel) == 3;
#else
        word_ -= 2;
        return word_ == 1;
#endif
    }
    // Marks the object closed; true when no pin is held and it was open (delete the core now).
    bool close() noexcept {
#ifdef Py_GIL_DISABLED
        return word_.fetch_or(1, std::memory_order_acq_rel) == 0;
#else
        const bool now = word_ == 0;
        word_ |= 1;
        return now;
#endif
    }
    bool closed() const noexcept {
#ifdef Py_GIL_DISABLED
        return (word_.load(std::memory_order_relaxed) & 1) != 0;
#else
        return (word_ & 1) != 0;
#endif
    }

private:
#ifdef Py_GIL_DISABLED
    std::atomic<std::uint64_t> word_{0};
#else
    std::uint64_t word_ = 0;
#endif
};

// The object layout both types share.
template <class Core>
struct SharedObject {
    PyObject_HEAD
    Core* core;                  // nullptr once closed and no longer pinned
    lifetime life;
    PyObject* name;              // str, as given
    ac::region_options options;  // as opened (pickles carry mode and allow_other_owner)
};

template <class Core>
SharedObject<Core>* as_shared(PyObject* self) {
    return reinterpret_cast<SharedObject<Core>*>(self);
}

// Keeps an open object's core alive for the rest of a scope; core() is nullptr, with ValueError
// set, when the object is closed. Take it only after everything in the method that can run
// Python code.
template <class Core>
class pin {
public:
    pin(PyObject* self, char const* type) : obj_(as_shared<Core>(self)) {
        if (ATOMIC_COUNTER_UNLIKELY(!obj_->life.pin())) {
            PyErr_Format(PyExc_ValueError, "%s %R is closed", type, obj_->name);
            obj_ = nullptr;
        }
    }
    pin(pin const&) = delete;
    pin& operator=(pin const&) = delete;
    ~pin() {
        if (obj_ != nullptr && obj_->life.unpin()) {
            delete obj_->core;  // close() was called while this method was inside the core
            obj_->core = nullptr;
        }
    }
    Core* core() const noexcept { return obj_ == nullptr ? nullptr : obj_->core; }

private:
    SharedObject<Core>* obj_;
};

template <class Core>
void shared_dealloc(PyObject* self) {
    SharedObject<Core>* obj = as_shared<Core>(self);
    delete obj->core;  // no pin can be held: a method in flight holds a reference to self
    Py_XDECREF(obj->name);
    free_object_memory(self);
}

// The name argument: a str or an os.PathLike giving one.
bool to_name(PyObject* obj, char const* func, owned* out, std::string* text) {
    owned path(PyOS_FSPath(obj));
    if (!path) {
        return false;
    }
    if (!PyUnicode_Check(path.get())) {
        PyErr_Format(PyExc_TypeError, "%s argument 'name' must be a str or an os.PathLike of str",
                     func);
        return false;
    }
    Py_ssize_t size = 0;
    char const* utf8 = PyUnicode_AsUTF8AndSize(path.get(), &size);
    if (utf8 == nullptr) {
        return false;
    }
    text->assign(utf8, static_cast<std::size_t>(size));
    out->reset(path.release());
    return true;
}

bool to_optional_bool(PyObject* obj, char const* func, char const* arg, bool* out) {
    if (obj == nullptr || obj == Py_None) {
        return true;
    }
    if (!PyBool_Check(obj)) {
        owned type_name(PyObject_GetAttrString(reinterpret_cast<PyObject*>(Py_TYPE(obj)),
                                               "__name__"));
        if (type_name) {
            PyErr_Format(PyExc_TypeError, "%s argument '%s' must be a bool, not %U", func, arg,
                         type_name.get());
        }
        return false;
    }
    *out = obj == Py_True;
    return true;
}

// durable (None or bool) and block (None or an int >= 1) to the core's durable_block:
// nullopt = the region's, 0 = not durable, n = durable with n per msync.
bool to_durable_block(PyObject* durable, PyObject* block, char const* func,
                      std::uint64_t default_block, std::optional<std::uint64_t>* out) {
    if (durable != nullptr && durable != Py_None && !PyBool_Check(durable)) {
        owned type_name(
            PyObject_GetAttrString(reinterpret_cast<PyObject*>(Py_TYPE(durable)), "__name__"));
        if (type_name) {
            PyErr_Format(PyExc_TypeError, "%s argument 'durable' must be a bool or None, not %U",
                         func, type_name.get());
        }
        return false;
    }
    std::optional<std::uint64_t> block_value;
    if (!to_optional_u64(block, func, "block", &block_value)) {
        return false;
    }
    if (block_value && *block_value == 0) {
        PyErr_Format(PyExc_ValueError, "%s argument 'block' must be in [1, 2**64 - 1], got 0", func);
        return false;
    }
    if (durable == Py_True) {
        *out = block_value.value_or(default_block);
        return true;
    }
    if (block_value) {
        PyErr_Format(PyExc_ValueError, "%s argument 'block' needs durable=True", func);
        return false;
    }
    if (durable == Py_False) {
        *out = 0;
    } else {
        out->reset();
    }
    return true;
}

// mode (an int in [0, 0o777]) and allow_other_owner (a bool) to region_options.
bool to_region_options(PyObject* mode, PyObject* allow_other_owner, char const* func,
                       ac::region_options* out) {
    std::optional<std::uint64_t> mode_value;
    if (!to_optional_u64(mode, func, "mode", &mode_value)) {
        return false;
    }
    if (mode_value && *mode_value > 0777) {
        PyErr_Format(PyExc_ValueError, "%s argument 'mode' must be permission bits in [0, 0o777], "
                     "got %s", func, ac::detail::os::octal(static_cast<std::uint32_t>(
                                         *mode_value & 07777)).c_str());
        return false;
    }
    if (mode_value) {
        out->mode = static_cast<std::uint32_t>(*mode_value);
    }
    if (!to_optional_bool(allow_other_owner, func, "allow_other_owner", &out->allow_other_owner)) {
        return false;
    }
    out->run_blocking = run_without_gil;
    return true;
}

// Allocates the Python object around a core built by `make` (which may throw). The core is
// built without the GIL: opening may wait for another process that is creating the region.
template <class Core, class Make>
PyObject* new_shared(PyTypeObject* type, char const* func, owned& name,
                     ac::region_options const& options, Make&& make) {
    owned self(PyType_GenericAlloc(type, 0));
    if (!self) {
        return nullptr;
    }
    SharedObject<Core>* obj = as_shared<Core>(self.get());
    obj->core = nullptr;
    new (&obj->life) lifetime();  // open: nothing reaches it before it is returned
    obj->name = name.release();
    new (&obj->options) ac::region_options(options);
    Core* core = nullptr;
    std::exception_ptr error;
    Py_BEGIN_ALLOW_THREADS
    gil_released = true;
    try {
        core = make();
    } catch (...) {
        error = std::current_exception();
    }
    gil_released = false;
    Py_END_ALLOW_THREADS
    if (error) {
        try {
            std::rethrow_exception(error);
        } catch (...) {
            return set_python_error(func);  // `self` is released by owned, with a null core
        }
    }
    obj->core = core;
    return self.release();
}

template <class Core>
PyObject* shared_next(PyObject* self, char const* type, char const* func) {
    std::uint64_t value = 0;
    {
        pin<Core> p(self, type);
        if (p.core() == nullptr) {
            return nullptr;
        }
        try {
            value = p.core()->next();
        } catch (...) {
            return set_python_error(func);
        }
    }
    return PyLong_FromUnsignedLongLong(value);
}

template <class Core>
PyObject* shared_current(PyObject* self, char const* type) {
    std::uint64_t value = 0;
    {
        pin<Core> p(self, type);
        if (p.core() == nullptr) {
            return nullptr;
        }
        value = p.core()->current();
    }
    return PyLong_FromUnsignedLongLong(value);
}

template <class Core>
PyObject* shared_next_many(PyObject* self, char const* type, char const* func,
                           PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
    bulk_draw bulk;
    if (!bulk.parse(func, args, nargs, kwnames)) {
        return nullptr;
    }
    {
        pin<Core> p(self, type);
        if (p.core() == nullptr) {
            return nullptr;
        }
        try {
            p.core()->next_many(bulk.out(), bulk.size());
        } catch (...) {
            return set_python_error(func);
        }
    }
    return bulk.result();
}

// advance_to(value) / set(val): the argument converted first, then the core pinned.
template <class Core, class Apply>
PyObject* shared_store(PyObject* self, char const* type, char const* func, char const* arg,
                       PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames, Apply apply) {
    char const* const names[] = {arg};
    PyObject* value_obj = nullptr;
    std::uint64_t value = 0;
    if (!bind_arguments(func, args, nargs, kwnames, names, 1, 1, &value_obj) ||
        !to_u64(value_obj, func, arg, &value)) {
        return nullptr;
    }
    pin<Core> p(self, type);
    if (p.core() == nullptr) {
        return nullptr;
    }
    try {
        apply(*p.core(), value);
    } catch (...) {
        return set_python_error(func);
    }
    Py_RETURN_NONE;
}

template <class Core>
PyObject* shared_close(PyObject* self) {
    SharedObject<Core>* obj = as_shared<Core>(self);
    if (obj->life.close()) {
        delete obj->core;
        obj->core = nullptr;
    }  // else the last pin deletes it (or it was closed already)
    Py_RETURN_NONE;
}

template <class Core>
PyObject* shared_unlink(PyObject* self, char const* func) {
    std::string name;
    owned unused;
    if (!to_name(as_shared<Core>(self)->name, func, &unused, &name)) {
        return nullptr;
    }
    try {
        Core::unlink(name);
    } catch (...) {
        return set_python_error(func);
    }
    Py_RETURN_NONE;
}

PyObject* shared_enter(PyObject* self, PyObject* Py_UNUSED(ignored)) {
    return Py_NewRef(self);
}

template <class Core>
PyObject* shared_exit(PyObject* self, PyObject* const* Py_UNUSED(args),
                      Py_ssize_t Py_UNUSED(nargs)) {
    return shared_close<Core>(self);
}

// What a pickle carries: the region's absolute path and id, and the open's parameters.
struct identity {
    std::string path;
    std::string id;
    std::uint64_t base;
    std::uint64_t interval;
    std::uint64_t durable_block;
    std::uint32_t mode;
    bool allow_other_owner;
};

template <class Core>
PyObject* shared_reduce(PyObject* self, char const* type, identity (*of)(Core const&)) {
    identity who;
    {
        pin<Core> p(self, type);
        if (p.core() == nullptr) {
            return nullptr;
        }
        who = of(*p.core());
    }
    SharedObject<Core> const* obj = as_shared<Core>(self);
    who.mode = obj->options.mode;
    who.allow_other_owner = obj->options.allow_other_owner;
    owned attach(PyObject_GetAttrString(reinterpret_cast<PyObject*>(Py_TYPE(self)), "_attach"));
    if (!attach) {
        return nullptr;
    }
    return Py_BuildValue("(O(ssKKKIO))", attach.get(), who.path.c_str(), who.id.c_str(),
                         static_cast<unsigned long long>(who.base),
                         static_cast<unsigned long long>(who.interval),
                         static_cast<unsigned long long>(who.durable_block), who.mode,
                         who.allow_other_owner ? Py_True : Py_False);
}

// _attach(path, region_id, base, interval, durable_block, mode, allow_other_owner): the
// unpickler. Opens that region only, with the pickler's rules: never creates one.
bool parse_attach(char const* func, PyObject* const* args, Py_ssize_t nargs, owned* name,
                  std::string* path, ac::region_options* options, identity* who) {
    if (nargs != 7) {
        PyErr_Format(PyExc_TypeError, "%s takes (path, region_id, base, interval, durable_block, "
                     "mode, allow_other_owner)", func);
        return false;
    }
    if (!to_region_options(args[5], args[6], func, options)) {
        return false;
    }
    if (!to_name(args[0], func, name, path) || !PyUnicode_Check(args[1]) ||
        !to_u64(args[2], func, "base", &who->base) ||
        !to_u64(args[3], func, "interval", &who->interval) ||
        !to_u64(args[4], func, "durable_block", &who->durable_block)) {
        if (!PyErr_Occurred()) {
            PyErr_Format(PyExc_TypeError, "%s argument 'region_id' must be a str", func);
        }
        return false;
    }
    char const* id = PyUnicode_AsUTF8AndSize(args[1], nullptr);
    if (id == nullptr) {
        return false;
    }
    try {
        options->only_region = ac::region_id::from_string(id);
    } catch (...) {
        set_python_error(func);
        return false;
    }
    return true;
}

template <class Core>
PyObject* shared_get_name(PyObject* self, void* Py_UNUSED(closure)) {
    return Py_NewRef(as_shared<Core>(self)->name);
}

template <class Core>
PyObject* shared_get_closed(PyObject* self, void* Py_UNUSED(closure)) {
    return PyBool_FromLong(as_shared<Core>(self)->life.closed());
}

// A property read off the open core: conv(core) gives the value, made into a Python object
// after the pin is dropped.
template <class Core, class Get>
PyObject* shared_property(PyObject* self, char const* type, Get get) {
    pin<Core> p(self, type);
    if (p.core() == nullptr) {
        return nullptr;
    }
    return get(*p.core());
}

template <class Core>
PyObject* block_of(Core const& core) {
    if (core.durable_block() == 0) {
        Py_RETURN_NONE;
    }
    return PyLong_FromUnsignedLongLong(core.durable_block());
}

#define ATOMIC_COUNTER_SHARED_COMMON_DOCS(TYPE)                                                 \
    PyDoc_STRVAR(TYPE##_close_doc, "close($self, /)\n--\n\n"                                    \
                                   "Release the mapping; the region and its value stay. Later "  \
                                   "calls raise ValueError.");                                   \
    PyDoc_STRVAR(TYPE##_unlink_doc,                                                             \
                 "unlink($self, /)\n--\n\n"                                                     \
                 "Remove the region's name. Processes that have it open keep using it; the "     \
                 "next\nopen of the name creates a new region. FileNotFoundError when already "   \
                 "gone.");

ATOMIC_COUNTER_SHARED_COMMON_DOCS(SharedCounter)
ATOMIC_COUNTER_SHARED_COMMON_DOCS(SharedTimeCounter)

// ---------------------------------------------------------------------------------------------
// SharedCounter

using counter_core = ac::shared_counter;
constexpr char const* counter_type_name = "SharedCounter";

identity counter_identity(counter_core const& core) {
    return {core.path(), core.id().to_string(), core.base(), core.interval(),
            core.durable_block(), 0, false};
}

PyObject* SharedCounter_new(PyTypeObject* type, PyObject* args, PyObject* kwargs) {
    static char const* const names[] = {"name",  "base",  "now",  "interval",         "durable",
                                        "block", "mode", "allow_other_owner", nullptr};
    char const* func = "SharedCounter()";
    PyObject *name_obj = nullptr, *base_obj = nullptr, *now_obj = nullptr,
             *interval_obj = nullptr, *durable_obj = nullptr, *block_obj = nullptr,
             *mode_obj = nullptr, *other_obj = nullptr;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|OOO$OOOO:SharedCounter",
                                     const_cast<char**>(names), &name_obj, &base_obj, &now_obj,
                                     &interval_obj, &durable_obj, &block_obj, &mode_obj,
                                     &other_obj)) {
        return nullptr;
    }
    owned name;
    std::string path;
    std::optional<std::uint64_t> base, now, interval, durable_block;
    ac::region_options options;
    if (!to_name(name_obj, func, &name, &path) ||
        !to_optional_u64(base_obj, func, "base", &base) ||
        !to_optional_u64(now_obj, func, "now", &now) ||
        !to_optional_u64(interval_obj, func, "interval", &interval) ||
        !to_durable_block(durable_obj, block_obj, func, counter_core::default_block,
                          &durable_block) ||
        !to_region_options(mode_obj, other_obj, func, &options)) {
        return nullptr;
    }
    return new_shared<counter_core>(type, func, name, options, [&] {
        return new counter_core(path, base, now, interval, durable_block, options);
    });
}

PyObject* SharedCounter_attach(PyObject* cls, PyObject* const* args, Py_ssize_t nargs) {
    owned name;
    std::string path;
    ac::region_options options;
    identity who;
    if (!parse_attach("SharedCounter._attach()", args, nargs, &name, &path, &options, &who)) {
        return nullptr;
    }
    return new_shared<counter_core>(reinterpret_cast<PyTypeObject*>(cls), "SharedCounter()", name,
                                    options, [&] {
        return new counter_core(path, who.base, std::nullopt, who.interval, who.durable_block,
                                options);
    });
}

PyDoc_STRVAR(SharedCounter_next_doc,
             "next($self, /)\n--\n\n"
             "Add the interval and return the new value: unique across every process and thread\n"
             "drawing from this name, and strictly increasing for each of them. Raises\n"
             "OverflowError past limit, and OSError if a durable region cannot be synced (the\n"
             "value is then skipped, never reissued).");

PyObject* SharedCounter_next(PyObject* self, PyObject* Py_UNUSED(ignored)) {
    return shared_next<counter_core>(self, counter_type_name, "SharedCounter.next()");
}

PyObject* SharedCounter_iternext(PyObject* self) {
    return shared_next<counter_core>(self, counter_type_name, "SharedCounter.next()");
}

PyDoc_STRVAR(SharedCounter_next_many_doc,
             "next_many($self, /, n)\n--\n\n"
             "Draw n values at once, as Counter.next_many(): one atomic step on the shared value.");

PyObject* SharedCounter_next_many(PyObject* self, PyObject* const* args, Py_ssize_t nargs,
                                  PyObject* kwnames) {
    return shared_next_many<counter_core>(self, counter_type_name, "SharedCounter.next_many()",
                                          args, nargs, kwnames);
}

PyDoc_STRVAR(SharedCounter_current_doc,
             "current($self, /)\n--\n\nReturn the last value any process drew.");

PyObject* SharedCounter_current(PyObject* self, PyObject* Py_UNUSED(ignored)) {
    return shared_current<counter_core>(self, counter_type_name);
}

PyDoc_STRVAR(SharedCounter_set_doc,
             "set($self, /, val)\n--\n\n"
             "Set the shared value to val, an int in [0, limit], for every process: a store, so\n"
             "values above val drawn before the call can be drawn again (the caller's decision;\n"
             "to skip ahead without ever going back, use advance_to()). A durable region first\n"
             "syncs a mark covering val; values other processes draw meanwhile are never undone:\n"
             "the value then becomes the larger of theirs and val.");

PyObject* SharedCounter_set(PyObject* self, PyObject* const* args, Py_ssize_t nargs,
                            PyObject* kwnames) {
    return shared_store<counter_core>(self, counter_type_name, "SharedCounter.set()", "val", args,
                                      nargs, kwnames,
                                      [](counter_core& c, std::uint64_t v) { c.set(v); });
}

PyDoc_STRVAR(SharedCounter_advance_to_doc,
             "advance_to($self, /, value)\n--\n\n"
             "Raise the shared value to value (an int in [0, limit]) unless it is already there\n"
             "or beyond: an atomic maximum, so the next draw returns more than value and the\n"
             "counter never moves backwards, whatever other processes draw meanwhile.");

PyObject* SharedCounter_advance_to(PyObject* self, PyObject* const* args, Py_ssize_t nargs,
                                   PyObject* kwnames) {
    return shared_store<counter_core>(self, counter_type_name, "SharedCounter.advance_to()",
                                      "value", args, nargs, kwnames,
                                      [](counter_core& c, std::uint64_t v) { c.advance_to(v); });
}

PyObject* SharedCounter_close(PyObject* self, PyObject* Py_UNUSED(ignored)) {
    return shared_close<counter_core>(self);
}

PyObject* SharedCounter_unlink(PyObject* self, PyObject* Py_UNUSED(ignored)) {
    return shared_unlink<counter_core>(self, "SharedCounter.unlink()");
}

PyObject* SharedCounter_reduce(PyObject* self, PyObject* Py_UNUSED(ignored)) {
    return shared_reduce<counter_core>(self, counter_type_name, counter_identity);
}

PyObject* SharedCounter_repr(PyObject* self) {
    SharedObject<counter_core>* obj = as_shared<counter_core>(self);
    std::uint64_t current = 0, base = 0, interval = 0;
    {
        pin<counter_core> p(self, counter_type_name);
        if (p.core() == nullptr) {
            PyErr_Clear();
            return PyUnicode_FromFormat("atomic_counter.SharedCounter(%R, closed)", obj->name);
        }
        current = p.core()->current();
        base = p.core()->base();
        interval = p.core()->interval();
    }
    return PyUnicode_FromFormat(
        "atomic_counter.SharedCounter(%R, current=%llu, base=%llu, interval=%llu)", obj->name,
        static_cast<unsigned long long>(current), static_cast<unsigned long long>(base),
        static_cast<unsigned long long>(interval));
}

PyMethodDef SharedCounter_methods[] = {
    {"next", SharedCounter_next, METH_NOARGS, SharedCounter_next_doc},
    {"next_many",
     reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(SharedCounter_next_many)),
     METH_FASTCALL | METH_KEYWORDS, SharedCounter_next_many_doc},
    {"current", SharedCounter_current, METH_NOARGS, SharedCounter_current_doc},
    {"set", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(SharedCounter_set)),
     METH_FASTCALL | METH_KEYWORDS, SharedCounter_set_doc},
    {"advance_to",
     reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(SharedCounter_advance_to)),
     METH_FASTCALL | METH_KEYWORDS, SharedCounter_advance_to_doc},
    {"close", SharedCounter_close, METH_NOARGS, SharedCounter_close_doc},
    {"unlink", SharedCounter_unlink, METH_NOARGS, SharedCounter_unlink_doc},
    {"__enter__", shared_enter, METH_NOARGS, nullptr},
    {"__exit__",
     reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(shared_exit<counter_core>)),
     METH_FASTCALL, nullptr},
    {"__reduce__", SharedCounter_reduce, METH_NOARGS, nullptr},
    {"_attach", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(SharedCounter_attach)),
     METH_FASTCALL | METH_CLASS, nullptr},
    {nullptr, nullptr, 0, nullptr},
};

PyObject* SharedCounter_get_base(PyObject* self, void* Py_UNUSED(closure)) {
    return shared_property<counter_core>(self, counter_type_name, [](counter_core const& c) {
        return PyLong_FromUnsignedLongLong(c.base());
    });
}

PyObject* SharedCounter_get_interval(PyObject* self, void* Py_UNUSED(closure)) {
    return shared_property<counter_core>(self, counter_type_name, [](counter_core const& c) {
        return PyLong_FromUnsignedLongLong(c.interval());
    });
}

PyObject* SharedCounter_get_limit(PyObject* self, void* Py_UNUSED(closure)) {
    return shared_property<counter_core>(self, counter_type_name, [](counter_core const& c) {
        return PyLong_FromUnsignedLongLong(c.limit());
    });
}

PyObject* SharedCounter_get_durable(PyObject* self, void* Py_UNUSED(closure)) {
    return shared_property<counter_core>(self, counter_type_name, [](counter_core const& c) {
        return PyBool_FromLong(c.durable_block() != 0);
    });
}

PyObject* SharedCounter_get_block(PyObject* self, void* Py_UNUSED(closure)) {
    return shared_property<counter_core>(self, counter_type_name, block_of<counter_core>);
}

PyObject* SharedCounter_get_path(PyObject* self, void* Py_UNUSED(closure)) {
    return shared_property<counter_core>(self, counter_type_name, [](counter_core const& c) {
        return PyUnicode_FromString(c.path().c_str());
    });
}

PyObject* SharedCounter_get_region_id(PyObject* self, void* Py_UNUSED(closure)) {
    return shared_property<counter_core>(self, counter_type_name, [](counter_core const& c) {
        return PyUnicode_FromString(c.id().to_string().c_str());
    });
}

PyGetSetDef SharedCounter_getset[] = {
    {"name", shared_get_name<counter_core>, nullptr, "The region's name or path, as given.",
     nullptr},
    {"path", SharedCounter_get_path, nullptr,
     "The absolute path of a file region (as opened), or the shared-memory name.", nullptr},
    {"region_id", SharedCounter_get_region_id, nullptr,
     "The region's identity: 32 hex digits drawn when it was created.", nullptr},
    {"closed", shared_get_closed<counter_core>, nullptr, "Whether close() was called.", nullptr},
    {"base", SharedCounter_get_base, nullptr, "The region's base, in ns since the epoch.", nullptr},
    {"interval", SharedCounter_get_interval, nullptr, "The region's interval.", nullptr},
    {"limit", SharedCounter_get_limit, nullptr, "As Counter.limit.", nullptr},
    {"durable", SharedCounter_get_durable, nullptr,
     "Whether the region msyncs a high-water mark before handing out values past it.", nullptr},
    {"block", SharedCounter_get_block, nullptr,
     "Draws reserved per msync in a durable region; None otherwise.", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

PyDoc_STRVAR(
    SharedCounter_doc,
    "SharedCounter(name, base=None, now=None, interval=None, *, durable=None, block=None, "
    "mode=0o600, allow_other_owner=False)\n--\n\n"
    "A Counter whose value lives in shared memory: one sequence for every process on the host\n"
    "that opens the same name, unique across all of them and increasing within each.\n\n"
    "name without '/' is a POSIX shared-memory object (survives any process, not a reboot);\n"
    "with '/', a file path (survives reboots). The first process to open a name creates it\n"
    "from base, now and interval (defaults as for Counter); later ones attach, and a base,\n"
    "interval or durability that differs from the region's raises ValueError. durable=True\n"
    "(file paths on a disk-backed file system) msyncs a high-water mark block draws ahead\n"
    "(default 65536) before handing out values past it, so not even a machine crash reissues\n"
    "a value. A new region gets exactly mode (default 0o600: this user only); a region owned\n"
    "by another user, writable by every user, a symlink or a hard link is refused with\n"
    "PermissionError unless allow_other_owner=True (and a mode granting it) says it is shared\n"
    "on purpose. A region that is not a SharedCounter's, or is truncated or corrupt, raises\n"
    "ValueError and is left untouched. Pickles attach to this same region, never create one.\n"
    "A context manager that closes on exit.");

PyType_Slot SharedCounter_slots[] = {
    {Py_tp_doc, const_cast<char*>(SharedCounter_doc)},
    {Py_tp_new, reinterpret_cast<void*>(SharedCounter_new)},
    {Py_tp_dealloc, reinterpret_cast<void*>(shared_dealloc<counter_core>)},
    {Py_tp_repr, reinterpret_cast<void*>(SharedCounter_repr)},
    {Py_tp_iter, reinterpret_cast<void*>(PyObject_SelfIter)},
    {Py_tp_iternext, reinterpret_cast<void*>(SharedCounter_iternext)},
    {Py_tp_methods, SharedCounter_methods},
    {Py_tp_getset, SharedCounter_getset},
    {0, nullptr},
};

PyType_Spec SharedCounter_spec = {
    "atomic_counter.SharedCounter",
    sizeof(SharedObject<counter_core>),
    0,
    Py_TPFLAGS_DEFAULT,
    SharedCounter_slots,
};

// ---------------------------------------------------------------------------------------------
// SharedTimeCounter

using time_core = ac::shared_time_counter;
constexpr char const* time_type_name = "SharedTimeCounter";

identity time_identity(time_core const& core) {
    return {core.path(), core.id().to_string(), 0, 0, core.durable_block(), 0, false};
}

PyObject* SharedTimeCounter_new(PyTypeObject* type, PyObject* args, PyObject* kwargs) {
    static char const* const names[] = {"name", "durable", "block", "mode", "allow_other_owner",
                                        nullptr};
    char const* func = "SharedTimeCounter()";
    PyObject *name_obj = nullptr, *durable_obj = nullptr, *block_obj = nullptr,
             *mode_obj = nullptr, *other_obj = nullptr;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|$OOOO:SharedTimeCounter",
                                     const_cast<char**>(names), &name_obj, &durable_obj,
                                     &block_obj, &mode_obj, &other_obj)) {
        return nullptr;
    }
    owned name;
    std::string path;
    std::optional<std::uint64_t> durable_block;
    ac::region_options options;
    if (!to_name(name_obj, func, &name, &path) ||
        !to_durable_block(durable_obj, block_obj, func, time_core::default_block,
                          &durable_block) ||
        !to_region_options(mode_obj, other_obj, func, &options)) {
        return nullptr;
    }
    return new_shared<time_core>(type, func, name, options, [&] {
        return new time_core(path, durable_block, ac::system_clock{}, options);
    });
}

PyObject* SharedTimeCounter_attach(PyObject* cls, PyObject* const* args, Py_ssize_t nargs) {
    owned name;
    std::string path;
    ac::region_options options;
    identity who;
    if (!parse_attach("SharedTimeCounter._attach()", args, nargs, &name, &path, &options, &who)) {
        return nullptr;
    }
    return new_shared<time_core>(reinterpret_cast<PyTypeObject*>(cls), "SharedTimeCounter()", name,
                                 options, [&] {
        return new time_core(path, who.durable_block, ac::system_clock{}, options);
    });
}

PyDoc_STRVAR(SharedTimeCounter_next_doc,
             "next($self, /)\n--\n\n"
             "Return the next id, as TimeCounter.next(): unique across every process and thread\n"
             "drawing from this name, and strictly increasing for each of them.");

PyObject* SharedTimeCounter_next(PyObject* self, PyObject* Py_UNUSED(ignored)) {
    return shared_next<time_core>(self, time_type_name, "SharedTimeCounter.next()");
}

PyObject* SharedTimeCounter_iternext(PyObject* self) {
    return shared_next<time_core>(self, time_type_name, "SharedTimeCounter.next()");
}

PyDoc_STRVAR(SharedTimeCounter_next_many_doc,
             "next_many($self, /, n)\n--\n\n"
             "Draw n consecutive ids at once, as TimeCounter.next_many().");

PyObject* SharedTimeCounter_next_many(PyObject* self, PyObject* const* args, Py_ssize_t nargs,
                                      PyObject* kwnames) {
    return shared_next_many<time_core>(self, time_type_name, "SharedTimeCounter.next_many()",
                                       args, nargs, kwnames);
}

PyDoc_STRVAR(SharedTimeCounter_current_doc,
             "current($self, /)\n--\n\nReturn the last id any process drew.");

PyObject* SharedTimeCounter_current(PyObject* self, PyObject* Py_UNUSED(ignored)) {
    return shared_current<time_core>(self, time_type_name);
}

PyDoc_STRVAR(SharedTimeCounter_advance_to_doc,
             "advance_to($self, /, value)\n--\n\n"
             "Raise the last id to value unless it is already there or beyond, for every\n"
             "process: the next id is above value, and the counter never moves backwards.");

PyObject* SharedTimeCounter_advance_to(PyObject* self, PyObject* const* args, Py_ssize_t nargs,
                                       PyObject* kwnames) {
    return shared_store<time_core>(self, time_type_name, "SharedTimeCounter.advance_to()",
                                   "value", args, nargs, kwnames,
                                   [](time_core& c, std::uint64_t v) { c.advance_to(v); });
}

PyDoc_STRVAR(SharedTimeCounter_lead_us_doc,
             "lead_us($self, /)\n--\n\n"
             "Return how many microseconds the last id runs ahead of this host's clock.");

PyObject* SharedTimeCounter_lead_us(PyObject* self, PyObject* Py_UNUSED(ignored)) {
    return shared_property<time_core>(self, time_type_name, [](time_core const& c) {
        return PyLong_FromUnsignedLongLong(c.lead_us());
    });
}

PyObject* SharedTimeCounter_close(PyObject* self, PyObject* Py_UNUSED(ignored)) {
    return shared_close<time_core>(self);
}

PyObject* SharedTimeCounter_unlink(PyObject* self, PyObject* Py_UNUSED(ignored)) {
    return shared_unlink<time_core>(self, "SharedTimeCounter.unlink()");
}

PyObject* SharedTimeCounter_reduce(PyObject* self, PyObject* Py_UNUSED(ignored)) {
    return shared_reduce<time_core>(self, time_type_name, time_identity);
}

PyObject* SharedTimeCounter_repr(PyObject* self) {
    SharedObject<time_core>* obj = as_shared<time_core>(self);
    std::uint64_t current = 0, lead = 0;
    {
        pin<time_core> p(self, time_type_name);
        if (p.core() == nullptr) {
            PyErr_Clear();
            return PyUnicode_FromFormat("atomic_counter.SharedTimeCounter(%R, closed)", obj->name);
        }
        current = p.core()->current();
        lead = p.core()->lead_us();
    }
    return PyUnicode_FromFormat("atomic_counter.SharedTimeCounter(%R, current=%llu, lead_us=%llu)",
                                obj->name, static_cast<unsigned long long>(current),
                                static_cast<unsigned long long>(lead));
}

PyMethodDef SharedTimeCounter_methods[] = {
    {"next", SharedTimeCounter_next, METH_NOARGS, SharedTimeCounter_next_doc},
    {"next_many",
     reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(SharedTimeCounter_next_many)),
     METH_FASTCALL | METH_KEYWORDS, SharedTimeCounter_next_many_doc},
    {"current", SharedTimeCounter_current, METH_NOARGS, SharedTimeCounter_current_doc},
    {"advance_to",
     reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(SharedTimeCounter_advance_to)),
     METH_FASTCALL | METH_KEYWORDS, SharedTimeCounter_advance_to_doc},
    {"lead_us", SharedTimeCounter_lead_us, METH_NOARGS, SharedTimeCounter_lead_us_doc},
    {"close", SharedTimeCounter_close, METH_NOARGS, SharedTimeCounter_close_doc},
    {"unlink", SharedTimeCounter_unlink, METH_NOARGS, SharedTimeCounter_unlink_doc},
    {"__enter__", shared_enter, METH_NOARGS, nullptr},
    {"__exit__",
     reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(shared_exit<time_core>)),
     METH_FASTCALL, nullptr},
    {"__reduce__", SharedTimeCounter_reduce, METH_NOARGS, nullptr},
    {"_attach",
     reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(SharedTimeCounter_attach)),
     METH_FASTCALL | METH_CLASS, nullptr},
    {nullptr, nullptr, 0, nullptr},
};

PyObject* SharedTimeCounter_get_durable(PyObject* self, void* Py_UNUSED(closure)) {
    return shared_property<time_core>(self, time_type_name, [](time_core const& c) {
        return PyBool_FromLong(c.durable_block() != 0);
    });
}

PyObject* SharedTimeCounter_get_block(PyObject* self, void* Py_UNUSED(closure)) {
    return shared_property<time_core>(self, time_type_name, block_of<time_core>);
}

PyObject* SharedTimeCounter_get_path(PyObject* self, void* Py_UNUSED(closure)) {
    return shared_property<time_core>(self, time_type_name, [](time_core const& c) {
        return PyUnicode_FromString(c.path().c_str());
    });
}

PyObject* SharedTimeCounter_get_region_id(PyObject* self, void* Py_UNUSED(closure)) {
    return shared_property<time_core>(self, time_type_name, [](time_core const& c) {
        return PyUnicode_FromString(c.id().to_string().c_str());
    });
}

PyGetSetDef SharedTimeCounter_getset[] = {
    {"name", shared_get_name<time_core>, nullptr, "The region's name or path, as given.", nullptr},
    {"path", SharedTimeCounter_get_path, nullptr,
     "The absolute path of a file region (as opened), or the shared-memory name.", nullptr},
    {"region_id", SharedTimeCounter_get_region_id, nullptr,
     "The region's identity: 32 hex digits drawn when it was created.", nullptr},
    {"closed", shared_get_closed<time_core>, nullptr, "Whether close() was called.", nullptr},
    {"durable", SharedTimeCounter_get_durable, nullptr,
     "Whether the region msyncs a high-water mark before handing out ids past it.", nullptr},
    {"block", SharedTimeCounter_get_block, nullptr,
     "Microseconds of ids reserved per msync in a durable region; None otherwise.", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

PyDoc_STRVAR(
    SharedTimeCounter_doc,
    "SharedTimeCounter(name, *, durable=None, block=None, mode=0o600, allow_other_owner=False)\n"
    "--\n\n"
    "A TimeCounter whose last id lives in shared memory: ids unique across every process on\n"
    "the host that opens the same name, and increasing within each (two processes with their\n"
    "own TimeCounter can collide; these cannot). Naming, creation, permissions, checks,\n"
    "pickling and closing are as for SharedCounter; a durable block is in microseconds of ids\n"
    "(default 1000000), so after a machine crash ids restart at most that far ahead of the\n"
    "clock. Decode ids with the TimeCounter static methods, which this class also has.");

PyType_Slot SharedTimeCounter_slots[] = {
    {Py_tp_doc, const_cast<char*>(SharedTimeCounter_doc)},
    {Py_tp_new, reinterpret_cast<void*>(SharedTimeCounter_new)},
    {Py_tp_dealloc, reinterpret_cast<void*>(shared_dealloc<time_core>)},
    {Py_tp_repr, reinterpret_cast<void*>(SharedTimeCounter_repr)},
    {Py_tp_iter, reinterpret_cast<void*>(PyObject_SelfIter)},
    {Py_tp_iternext, reinterpret_cast<void*>(SharedTimeCounter_iternext)},
    {Py_tp_methods, SharedTimeCounter_methods},
    {Py_tp_getset, SharedTimeCounter_getset},
    {0, nullptr},
};

PyType_Spec SharedTimeCounter_spec = {
    "atomic_counter.SharedTimeCounter",
    sizeof(SharedObject<time_core>),
    0,
    Py_TPFLAGS_DEFAULT,
    SharedTimeCounter_slots,
};

}  // namespace

namespace atomic_counter::python {

PyType_Spec* shared_counter_spec() { return &SharedCounter_spec; }
PyType_Spec* shared_time_counter_spec() { return &SharedTimeCounter_spec; }

}  // namespace atomic_counter::python
