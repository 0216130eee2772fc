// atomic_counter._core's shared-memory types: SharedCounter and SharedTimeCounter, one sequence
// for every process on the host that opens the same name (include/atomic_counter/shared_*.hpp).
//
// Each Python object owns its C++ counter (and so the mapping) through a pointer that close()
// releases; every method of a closed object raises ValueError, as a closed file does. The name
// is kept as a str beside it for repr and pickling, which reattaches by name (fork or spawn).
// Unlike Counter, draws are always atomic: other processes share the value, so the GIL excludes
// nothing.
#include "common.hpp"

#include <atomic_counter/shared_counter.hpp>
#include <atomic_counter/shared_time_counter.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace {

namespace ac = atomic_counter;
using namespace atomic_counter::python;

// The object layout both types share.
template <class Core>
struct SharedObject {
    PyObject_HEAD
    Core* core;      // nullptr once closed
    PyObject* name;  // str
};

template <class Core>
SharedObject<Core>* as_shared(PyObject* self) {
    return reinterpret_cast<SharedObject<Core>*>(self);
}

// The open core, or nullptr with ValueError set when the object is closed.
template <class Core>
Core* open_core(PyObject* self, char const* type) {
    SharedObject<Core>* obj = as_shared<Core>(self);
    if (ATOMIC_COUNTER_UNLIKELY(obj->core == nullptr)) {
        PyErr_Format(PyExc_ValueError, "%s %R is closed", type, obj->name);
    }
    return obj->core;
}

template <class Core>
void shared_dealloc(PyObject* self) {
    SharedObject<Core>* obj = as_shared<Core>(self);
    delete obj->core;
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
    if (durable == nullptr || durable == Py_None) {
        if (block_value) {
            PyErr_Format(PyExc_ValueError, "%s argument 'block' needs durable=True", func);
            return false;
        }
        out->reset();
    } else if (durable == Py_True) {
        *out = block_value.value_or(default_block);
    } else {
        if (block_value) {
            PyErr_Format(PyExc_ValueError, "%s argument 'block' needs durable=True", func);
            return false;
        }
        *out = 0;
    }
    return true;
}

// Allocates the Python object around a core built by `make` (which may throw).
template <class Core, class Make>
PyObject* new_shared(PyTypeObject* type, owned& name, Make&& make) {
    owned self(PyType_GenericAlloc(type, 0));
    if (!self) {
        return nullptr;
    }
    SharedObject<Core>* obj = as_shared<Core>(self.get());
    obj->core = nullptr;
    obj->name = name.release();
    try {
        obj->core = make();
    } catch (...) {
        return set_python_error();  // `self` is released by owned, with a null core
    }
    return self.release();
}

template <class Core>
PyObject* shared_next(PyObject* self, char const* type) {
    Core* core = open_core<Core>(self, type);
    if (core == nullptr) {
        return nullptr;
    }
    try {
        return PyLong_FromUnsignedLongLong(core->next());
    } catch (...) {
        return set_python_error();
    }
}

template <class Core>
PyObject* shared_current(PyObject* self, char const* type) {
    Core* core = open_core<Core>(self, type);
    return core == nullptr ? nullptr : PyLong_FromUnsignedLongLong(core->current());
}

template <class Core>
PyObject* shared_next_many(PyObject* self, char const* type, char const* func,
                           PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
    Core* core = open_core<Core>(self, type);
    return core == nullptr ? nullptr : draw_many(*core, func, args, nargs, kwnames);
}

template <class Core>
PyObject* shared_close(PyObject* self) {
    SharedObject<Core>* obj = as_shared<Core>(self);
    delete obj->core;
    obj->core = nullptr;
    Py_RETURN_NONE;
}

template <class Core>
PyObject* shared_unlink(PyObject* self) {
    std::string name;
    owned unused;
    if (!to_name(as_shared<Core>(self)->name, "unlink()", &unused, &name)) {
        return nullptr;
    }
    try {
        Core::unlink(name);
    } catch (...) {
        return set_python_error();
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

// Pickles by name: unpickling (in a spawned worker, say) attaches to the same region.
template <class Core>
PyObject* shared_reduce(PyObject* self, PyObject* Py_UNUSED(ignored)) {
    return Py_BuildValue("(O(O))", reinterpret_cast<PyObject*>(Py_TYPE(self)),
                         as_shared<Core>(self)->name);
}

template <class Core>
PyObject* shared_get_name(PyObject* self, void* Py_UNUSED(closure)) {
    return Py_NewRef(as_shared<Core>(self)->name);
}

template <class Core>
PyObject* shared_get_closed(PyObject* self, void* Py_UNUSED(closure)) {
    return PyBool_FromLong(as_shared<Core>(self)->core == nullptr);
}

template <class Core>
PyObject* shared_get_block(PyObject* self, void* Py_UNUSED(closure)) {
    Core* core = open_core<Core>(self, "shared counter");
    if (core == nullptr) {
        return nullptr;
    }
    if (core->durable_block() == 0) {
        Py_RETURN_NONE;
    }
    return PyLong_FromUnsignedLongLong(core->durable_block());
}

template <class Core>
PyObject* shared_get_durable(PyObject* self, void* Py_UNUSED(closure)) {
    Core* core = open_core<Core>(self, "shared counter");
    return core == nullptr ? nullptr : PyBool_FromLong(core->durable_block() != 0);
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

PyObject* SharedCounter_new(PyTypeObject* type, PyObject* args, PyObject* kwargs) {
    static char const* const names[] = {"name", "base", "now", "interval", "durable", "block",
                                        nullptr};
    char const* func = "SharedCounter()";
    PyObject *name_obj = nullptr, *base_obj = nullptr, *now_obj = nullptr,
             *interval_obj = nullptr, *durable_obj = nullptr, *block_obj = nullptr;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|OOO$OO:SharedCounter",
                                     const_cast<char**>(names), &name_obj, &base_obj, &now_obj,
                                     &interval_obj, &durable_obj, &block_obj)) {
        return nullptr;
    }
    owned name;
    std::string path;
    std::optional<std::uint64_t> base, now, interval, durable_block;
    if (!to_name(name_obj, func, &name, &path) ||
        !to_optional_u64(base_obj, func, "base", &base) ||
        !to_optional_u64(now_obj, func, "now", &now) ||
        !to_optional_u64(interval_obj, func, "interval", &interval) ||
        !to_durable_block(durable_obj, block_obj, func, counter_core::default_block,
                          &durable_block)) {
        return nullptr;
    }
    return new_shared<counter_core>(type, name, [&] {
        return new counter_core(path, base, now, interval, durable_block);
    });
}

PyDoc_STRVAR(SharedCounter_next_doc,
             "next($self, /)\n--\n\n"
             "Add the interval and return the new value: unique across every process and thread\n"
             "drawing from this name, and strictly increasing for each of them. Raises\n"
             "OverflowError past limit, and OSError if a durable region cannot be synced (the\n"
             "value is then skipped, never reissued).");

PyObject* SharedCounter_next(PyObject* self, PyObject* Py_UNUSED(ignored)) {
    return shared_next<counter_core>(self, counter_type_name);
}

PyObject* SharedCounter_iternext(PyObject* self) {
    return shared_next<counter_core>(self, counter_type_name);
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
             "Set the shared value to val, an int in [0, limit], for every process.");

PyObject* SharedCounter_set(PyObject* self, PyObject* const* args, Py_ssize_t nargs,
                            PyObject* kwnames) {
    static char const* const names[] = {"val"};
    PyObject* val = nullptr;
    std::uint64_t value = 0;
    counter_core* core = open_core<counter_core>(self, counter_type_name);
    if (core == nullptr ||
        !bind_arguments("SharedCounter.set()", args, nargs, kwnames, names, 1, 1, &val) ||
        !to_u64(val, "SharedCounter.set()", "val", &value)) {
        return nullptr;
    }
    try {
        core->set(value);
    } catch (...) {
        return set_python_error();
    }
    Py_RETURN_NONE;
}

PyObject* SharedCounter_close(PyObject* self, PyObject* Py_UNUSED(ignored)) {
    return shared_close<counter_core>(self);
}

PyObject* SharedCounter_unlink(PyObject* self, PyObject* Py_UNUSED(ignored)) {
    return shared_unlink<counter_core>(self);
}

PyObject* SharedCounter_repr(PyObject* self) {
    SharedObject<counter_core>* obj = as_shared<counter_core>(self);
    if (obj->core == nullptr) {
        return PyUnicode_FromFormat("atomic_counter.SharedCounter(%R, closed)", obj->name);
    }
    return PyUnicode_FromFormat(
        "atomic_counter.SharedCounter(%R, current=%llu, base=%llu, interval=%llu)", obj->name,
        static_cast<unsigned long long>(obj->core->current()),
        static_cast<unsigned long long>(obj->core->base()),
        static_cast<unsigned long long>(obj->core->interval()));
}

PyObject* SharedCounter_get_base(PyObject* self, void* Py_UNUSED(closure)) {
    counter_core* core = open_core<counter_core>(self, counter_type_name);
    return core == nullptr ? nullptr : PyLong_FromUnsignedLongLong(core->base());
}

PyObject* SharedCounter_get_interval(PyObject* self, void* Py_UNUSED(closure)) {
    counter_core* core = open_core<counter_core>(self, counter_type_name);
    return core == nullptr ? nullptr : PyLong_FromUnsignedLongLong(core->interval());
}

PyObject* SharedCounter_get_limit(PyObject* self, void* Py_UNUSED(closure)) {
    counter_core* core = open_core<counter_core>(self, counter_type_name);
    return core == nullptr ? nullptr : PyLong_FromUnsignedLongLong(core->limit());
}

PyMethodDef SharedCounter_methods[] = {
    {"next", SharedCounter_next, METH_NOARGS, SharedCounter_next_doc},
    {"next_many",
     reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(SharedCounter_next_many)),
     METH_FASTCALL | METH_KEYWORDS, SharedCounter_next_many_doc},
    {"current", SharedCounter_current, METH_NOARGS, SharedCounter_current_doc},
    {"set", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(SharedCounter_set)),
     METH_FASTCALL | METH_KEYWORDS, SharedCounter_set_doc},
    {"close", SharedCounter_close, METH_NOARGS, SharedCounter_close_doc},
    {"unlink", SharedCounter_unlink, METH_NOARGS, SharedCounter_unlink_doc},
    {"__enter__", shared_enter, METH_NOARGS, nullptr},
    {"__exit__",
     reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(shared_exit<counter_core>)),
     METH_FASTCALL, nullptr},
    {"__reduce__", shared_reduce<counter_core>, METH_NOARGS, nullptr},
    {nullptr, nullptr, 0, nullptr},
};

PyGetSetDef SharedCounter_getset[] = {
    {"name", shared_get_name<counter_core>, nullptr, "The region's name or path.", nullptr},
    {"closed", shared_get_closed<counter_core>, nullptr, "Whether close() was called.", nullptr},
    {"base", SharedCounter_get_base, nullptr, "The region's base, in ns since the epoch.", nullptr},
    {"interval", SharedCounter_get_interval, nullptr, "The region's interval.", nullptr},
    {"limit", SharedCounter_get_limit, nullptr, "As Counter.limit.", nullptr},
    {"durable", shared_get_durable<counter_core>, nullptr,
     "Whether the region msyncs a high-water mark before handing out values past it.", nullptr},
    {"block", shared_get_block<counter_core>, nullptr,
     "Draws reserved per msync in a durable region; None otherwise.", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

PyDoc_STRVAR(
    SharedCounter_doc,
    "SharedCounter(name, base=None, now=None, interval=None, *, durable=None, block=None)\n--\n\n"
    "A Counter whose value lives in shared memory: one sequence for every process on the host\n"
    "that opens the same name, unique across all of them and increasing within each.\n\n"
    "name without '/' is a POSIX shared-memory object (survives any process, not a reboot);\n"
    "with '/', a file path (survives reboots). The first process to open a name creates it\n"
    "from base, now and interval (defaults as for Counter); later ones attach, and a base,\n"
    "interval or durability that differs from the region's raises ValueError. durable=True\n"
    "(file paths only) msyncs a high-water mark block draws ahead (default 65536) before\n"
    "handing out values past it, so not even a machine crash reissues a value. A region that\n"
    "is not a SharedCounter's, or is truncated or corrupt, raises ValueError and is left\n"
    "untouched; a file you cannot write raises PermissionError. Picklable by name; a context\n"
    "manager that closes on exit.");

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

PyObject* SharedTimeCounter_new(PyTypeObject* type, PyObject* args, PyObject* kwargs) {
    static char const* const names[] = {"name", "durable", "block", nullptr};
    char const* func = "SharedTimeCounter()";
    PyObject *name_obj = nullptr, *durable_obj = nullptr, *block_obj = nullptr;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|$OO:SharedTimeCounter",
                                     const_cast<char**>(names), &name_obj, &durable_obj,
                                     &block_obj)) {
        return nullptr;
    }
    owned name;
    std::string path;
    std::optional<std::uint64_t> durable_block;
    if (!to_name(name_obj, func, &name, &path) ||
        !to_durable_block(durable_obj, block_obj, func, time_core::default_block,
                          &durable_block)) {
        return nullptr;
    }
    return new_shared<time_core>(type, name, [&] { return new time_core(path, durable_block); });
}

PyDoc_STRVAR(SharedTimeCounter_next_doc,
             "next($self, /)\n--\n\n"
             "Return the next id, as TimeCounter.next(): unique across every process and thread\n"
             "drawing from this name, and strictly increasing for each of them.");

PyObject* SharedTimeCounter_next(PyObject* self, PyObject* Py_UNUSED(ignored)) {
    return shared_next<time_core>(self, time_type_name);
}

PyObject* SharedTimeCounter_iternext(PyObject* self) {
    return shared_next<time_core>(self, time_type_name);
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

PyDoc_STRVAR(SharedTimeCounter_lead_us_doc,
             "lead_us($self, /)\n--\n\n"
             "Return how many microseconds the last id runs ahead of this host's clock.");

PyObject* SharedTimeCounter_lead_us(PyObject* self, PyObject* Py_UNUSED(ignored)) {
    time_core* core = open_core<time_core>(self, time_type_name);
    return core == nullptr ? nullptr : PyLong_FromUnsignedLongLong(core->lead_us());
}

PyObject* SharedTimeCounter_close(PyObject* self, PyObject* Py_UNUSED(ignored)) {
    return shared_close<time_core>(self);
}

PyObject* SharedTimeCounter_unlink(PyObject* self, PyObject* Py_UNUSED(ignored)) {
    return shared_unlink<time_core>(self);
}

PyObject* SharedTimeCounter_repr(PyObject* self) {
    SharedObject<time_core>* obj = as_shared<time_core>(self);
    if (obj->core == nullptr) {
        return PyUnicode_FromFormat("atomic_counter.SharedTimeCounter(%R, closed)", obj->name);
    }
    return PyUnicode_FromFormat("atomic_counter.SharedTimeCounter(%R, current=%llu, lead_us=%llu)",
                                obj->name, static_cast<unsigned long long>(obj->core->current()),
                                static_cast<unsigned long long>(obj->core->lead_us()));
}

PyMethodDef SharedTimeCounter_methods[] = {
    {"next", SharedTimeCounter_next, METH_NOARGS, SharedTimeCounter_next_doc},
    {"next_many",
     reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(SharedTimeCounter_next_many)),
     METH_FASTCALL | METH_KEYWORDS, SharedTimeCounter_next_many_doc},
    {"current", SharedTimeCounter_current, METH_NOARGS, SharedTimeCounter_current_doc},
    {"lead_us", SharedTimeCounter_lead_us, METH_NOARGS, SharedTimeCounter_lead_us_doc},
    {"close", SharedTimeCounter_close, METH_NOARGS, SharedTimeCounter_close_doc},
    {"unlink", SharedTimeCounter_unlink, METH_NOARGS, SharedTimeCounter_unlink_doc},
    {"__enter__", shared_enter, METH_NOARGS, nullptr},
    {"__exit__",
     reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(shared_exit<time_core>)),
     METH_FASTCALL, nullptr},
    {"__reduce__", shared_reduce<time_core>, METH_NOARGS, nullptr},
    {nullptr, nullptr, 0, nullptr},
};

PyGetSetDef SharedTimeCounter_getset[] = {
    {"name", shared_get_name<time_core>, nullptr, "The region's name or path.", nullptr},
    {"closed", shared_get_closed<time_core>, nullptr, "Whether close() was called.", nullptr},
    {"durable", shared_get_durable<time_core>, nullptr,
     "Whether the region msyncs a high-water mark before handing out ids past it.", nullptr},
    {"block", shared_get_block<time_core>, nullptr,
     "Microseconds of ids reserved per msync in a durable region; None otherwise.", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

PyDoc_STRVAR(
    SharedTimeCounter_doc,
    "SharedTimeCounter(name, *, durable=None, block=None)\n--\n\n"
    "A TimeCounter whose last id lives in shared memory: ids unique across every process on\n"
    "the host that opens the same name, and increasing within each (two processes with their\n"
    "own TimeCounter can collide; these cannot). Naming, creation, checks, pickling and\n"
    "closing are as for SharedCounter; a durable block is in microseconds of ids (default\n"
    "1000000), so after a machine crash ids restart at most that far ahead of the clock.\n"
    "Decode ids with the TimeCounter static methods, which this class also has.");

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
