// atomic_counter._core's SnowflakeCounter: ids of a Layout (time | node | sequence) for one node,
// over include/atomic_counter/snowflake_counter.hpp.
//
// The Layout itself is a pure-Python frozen dataclass (atomic_counter.layout); the constructor
// reads its fields once and keeps the object for the `layout` attribute. The lease methods
// (_extend, _revoke, _seal, _limit_lead, _rebind) are for atomic_counter.lease's NodeLease; a
// counter that no lease governs never reads the monotonic clock. lease_expired becomes atomic_counter's
// LeaseExpiredError, looked up on the type's module when it is raised.
#include "common.hpp"

#include <atomic_counter/layout.hpp>
#include <atomic_counter/snowflake_counter.hpp>

#include <structmember.h>

#include <cstddef>
#include <cstdint>
#include <optional>

namespace {

namespace ac = atomic_counter;
using namespace atomic_counter::python;

// fork(): a SnowflakeCounter copied into a child process holds the parent's node, so every id
// the child drew could be one the parent draws too. Its draws there raise RuntimeError: the
// child needs a node of its own (lease_node_id(), or another node id).
struct SnowflakeObject {
    PyObject_HEAD
    unsigned long generation;  // the fork generation of the process that created it
    ac::snowflake_counter* core;
    PyObject* layout;
    PyObject* weakrefs;  // a lease keeps weak references to its counters
};

SnowflakeObject* as_snowflake(PyObject* self) { return reinterpret_cast<SnowflakeObject*>(self); }

// Translates the exception being handled; lease_expired becomes LeaseExpiredError.
PyObject* set_snowflake_error(PyObject* self, char const* func) noexcept {
    try {
        throw;
    } catch (ac::lease_expired const& e) {
        PyObject* module = PyType_GetModule(Py_TYPE(self));
        owned error(module != nullptr ? PyObject_GetAttrString(module, "LeaseExpiredError")
                                      : nullptr);
        if (error) {
            PyErr_SetString(error.get(), python_message(e.what(), func).c_str());
        }
        return nullptr;
    } catch (...) {
        return set_python_error(func);
    }
}

void Snowflake_dealloc(PyObject* self) {
    if (as_snowflake(self)->weakrefs != nullptr) {
        PyObject_ClearWeakRefs(self);
    }
    delete as_snowflake(self)->core;
    Py_XDECREF(as_snowflake(self)->layout);
    free_object_memory(self);
}

// Reads a non-negative int attribute of the layout object.
bool layout_field(PyObject* layout, char const* name, std::uint64_t* out) {
    owned value(PyObject_GetAttrString(layout, name));
    if (!value) {
        return false;
    }
    return to_u64(value.get(), "SnowflakeCounter() layout", name, out);
}

PyObject* Snowflake_new(PyTypeObject* type, PyObject* args, PyObject* kwargs) {
    static char const* const names[] = {"layout", "node", "floor", nullptr};
    char const* func = "SnowflakeCounter()";
    PyObject *layout_obj = nullptr, *node_obj = nullptr, *floor_obj = nullptr;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO|$O:SnowflakeCounter",
                                     const_cast<char**>(names), &layout_obj, &node_obj,
                                     &floor_obj)) {
        return nullptr;
    }
    std::uint64_t epoch_ns = 0, tick_ns = 0, time_bits = 0, node_bits = 0, sequence_bits = 0;
    std::uint64_t node = 0;
    std::optional<std::uint64_t> floor;
    if (!layout_field(layout_obj, "epoch_ns", &epoch_ns) ||
        !layout_field(layout_obj, "tick_ns", &tick_ns) ||
        !layout_field(layout_obj, "time_bits", &time_bits) ||
        !layout_field(layout_obj, "node_bits", &node_bits) ||
        !layout_field(layout_obj, "sequence_bits", &sequence_bits) ||
        !to_u64(node_obj, func, "node", &node) ||
        !to_optional_u64(floor_obj, func, "floor", &floor)) {
        return nullptr;
    }
    owned positive(PyObject_GetAttrString(layout_obj, "positive_int64"));
    const int positive_int64 = positive ? PyObject_IsTrue(positive.get()) : -1;
    if (positive_int64 < 0) {
        return nullptr;
    }
    owned self(PyType_GenericAlloc(type, 0));
    if (!self) {
        return nullptr;
    }
    SnowflakeObject* obj = as_snowflake(self.get());
    obj->generation = current_fork_generation();
    obj->core = nullptr;
    obj->weakrefs = nullptr;
    obj->layout = Py_NewRef(layout_obj);
    try {
        const auto bits = [](std::uint64_t b) { return static_cast<unsigned>(b > 64 ? 65 : b); };
        const ac::layout layout(epoch_ns, tick_ns, bits(time_bits), bits(node_bits),
                                bits(sequence_bits), positive_int64 != 0);
        obj->core = new ac::snowflake_counter(layout, node, floor.value_or(0));
    } catch (...) {
        return set_python_error(func);
    }
    return self.release();
}

PyDoc_STRVAR(Snowflake_next_doc,
             "next($self, /)\n--\n\n"
             "Return the next id: (ticks since the layout's epoch, this node, a sequence).\n\n"
             "Strictly increasing for every caller in the process, unique across nodes. When the\n"
             "sequence of a tick is used up the id borrows from the next tick (see lead_ns());\n"
             "a clock step back never makes an id go back. Raises OverflowError when the\n"
             "layout's time runs out, and LeaseExpiredError when a lease governs the counter\n"
             "and could not be confirmed in time.");

// Whether this process may draw from the counter; RuntimeError when it is a fork child's copy.
bool drawable(PyObject* self) {
    SnowflakeObject* obj = as_snowflake(self);
    if (ATOMIC_COUNTER_UNLIKELY(obj->generation != current_fork_generation())) {
        PyErr_Format(PyExc_RuntimeError,
                     "SnowflakeCounter.next(): this counter was copied into a child process by "
                     "fork() and holds the parent's node %llu, so its ids could repeat the "
                     "parent's; create one with a node of the child's own (lease_node_id())",
                     static_cast<unsigned long long>(obj->core->node()));
        return false;
    }
    return true;
}

PyObject* Snowflake_next(PyObject* self, PyObject* Py_UNUSED(ignored)) {
    if (!drawable(self)) {
        return nullptr;
    }
    try {
        return PyLong_FromUnsignedLongLong(as_snowflake(self)->core->next());
    } catch (...) {
        return set_snowflake_error(self, "SnowflakeCounter.next()");
    }
}

PyObject* Snowflake_iternext(PyObject* self) { return Snowflake_next(self, nullptr); }

PyDoc_STRVAR(Snowflake_next_many_doc,
             "next_many($self, /, n)\n--\n\n"
             "Draw n ids at once (one atomic step), as a memoryview: of int64 (format 'q') for a\n"
             "layout whose ids stay positive int64 (positive_int64, as every preset but\n"
             "TIME_COUNTER), so numpy, pandas and pyarrow see a signed column; of uint64 ('Q')\n"
             "otherwise.");

PyObject* Snowflake_next_many(PyObject* self, PyObject* const* args, Py_ssize_t nargs,
                              PyObject* kwnames) {
    if (!drawable(self)) {
        return nullptr;
    }
    ac::snowflake_counter& core = *as_snowflake(self)->core;
    // Ids of a positive-int64 layout come as int64 ('q'), so NumPy, pandas and pyarrow take them
    // as the signed column a database wants; the others need all 64 bits ('Q').
    return draw_many(core, "SnowflakeCounter.next_many()", args, nargs, kwnames,
                     [self]() noexcept {
                         return set_snowflake_error(self, "SnowflakeCounter.next_many()");
                     },
                     core.id_layout().positive_int64() ? 'q' : 'Q');
}

PyDoc_STRVAR(Snowflake_current_doc, "current($self, /)\n--\n\nReturn the last id handed out.");

PyObject* Snowflake_current(PyObject* self, PyObject* Py_UNUSED(ignored)) {
    return PyLong_FromUnsignedLongLong(as_snowflake(self)->core->current());
}

PyDoc_STRVAR(Snowflake_lead_ns_doc,
             "lead_ns($self, /)\n--\n\n"
             "Return how far the last id's time runs ahead of the clock, in nanoseconds.");

PyObject* Snowflake_lead_ns(PyObject* self, PyObject* Py_UNUSED(ignored)) {
    return PyLong_FromUnsignedLongLong(as_snowflake(self)->core->lead_ns());
}

// _extend(deadline_ns, max_id): the lease's limits (deadline on time.monotonic_ns()'s clock).
PyObject* Snowflake_extend(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
    std::uint64_t deadline = 0, max_id = 0;
    if (nargs != 2 || !to_u64(args[0], "_extend()", "deadline_ns", &deadline) ||
        !to_u64(args[1], "_extend()", "max_id", &max_id)) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_TypeError, "_extend() takes (deadline_ns, max_id)");
        }
        return nullptr;
    }
    as_snowflake(self)->core->extend(deadline, max_id);
    Py_RETURN_NONE;
}

PyObject* Snowflake_revoke(PyObject* self, PyObject* Py_UNUSED(ignored)) {
    as_snowflake(self)->core->revoke();
    Py_RETURN_NONE;
}

// _seal() -> int: stops the counter for good; the result is at or above every id handed out.
PyObject* Snowflake_seal(PyObject* self, PyObject* Py_UNUSED(ignored)) {
    return PyLong_FromUnsignedLongLong(as_snowflake(self)->core->seal());
}

// _limit_lead(lead_ns): ids never run more than lead_ns ahead of the clock.
PyObject* Snowflake_limit_lead(PyObject* self, PyObject* arg) {
    std::uint64_t lead = 0;
    if (!to_u64(arg, "_limit_lead()", "lead_ns", &lead)) {
        return nullptr;
    }
    as_snowflake(self)->core->limit_lead(lead);
    Py_RETURN_NONE;
}

// _rebind(node, floor): move to another node, above everything drawn and above floor.
PyObject* Snowflake_rebind(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
    std::uint64_t node = 0, floor = 0;
    if (nargs != 2 || !to_u64(args[0], "_rebind()", "node", &node) ||
        !to_u64(args[1], "_rebind()", "floor", &floor)) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_TypeError, "_rebind() takes (node, floor)");
        }
        return nullptr;
    }
    try {
        as_snowflake(self)->core->rebind(node, floor);
    } catch (...) {
        return set_snowflake_error(self, "SnowflakeCounter._rebind()");
    }
    Py_RETURN_NONE;
}

PyObject* Snowflake_repr(PyObject* self) {
    SnowflakeObject* obj = as_snowflake(self);
    return PyUnicode_FromFormat("atomic_counter.SnowflakeCounter(%R, node=%llu, current=%llu)",
                                obj->layout, static_cast<unsigned long long>(obj->core->node()),
                                static_cast<unsigned long long>(obj->core->current()));
}

PyObject* Snowflake_get_node(PyObject* self, void* Py_UNUSED(closure)) {
    return PyLong_FromUnsignedLongLong(as_snowflake(self)->core->node());
}

PyObject* Snowflake_get_layout(PyObject* self, void* Py_UNUSED(closure)) {
    return Py_NewRef(as_snowflake(self)->layout);
}

PyMethodDef Snowflake_methods[] = {
    {"next", Snowflake_next, METH_NOARGS, Snowflake_next_doc},
    {"next_many",
     reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(Snowflake_next_many)),
     METH_FASTCALL | METH_KEYWORDS, Snowflake_next_many_doc},
    {"current", Snowflake_current, METH_NOARGS, Snowflake_current_doc},
    {"lead_ns", Snowflake_lead_ns, METH_NOARGS, Snowflake_lead_ns_doc},
    {"_extend", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(Snowflake_extend)),
     METH_FASTCALL, nullptr},
    {"_revoke", Snowflake_revoke, METH_NOARGS, nullptr},
    {"_seal", Snowflake_seal, METH_NOARGS, nullptr},
    {"_limit_lead", Snowflake_limit_lead, METH_O, nullptr},
    {"_rebind", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(Snowflake_rebind)),
     METH_FASTCALL, nullptr},
    {nullptr, nullptr, 0, nullptr},
};

PyGetSetDef Snowflake_getset[] = {
    {"node", Snowflake_get_node, nullptr, "The node id in the ids drawn now.", nullptr},
    {"layout", Snowflake_get_layout, nullptr, "The Layout of the ids.", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

// The Limited API's way to make instances weak-referenceable.
PyMemberDef Snowflake_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(SnowflakeObject, weakrefs), READONLY, nullptr},
    {nullptr, 0, 0, 0, nullptr},
};

PyDoc_STRVAR(Snowflake_doc,
             "SnowflakeCounter(layout, node, *, floor=None)\n--\n\n"
             "Snowflake-style ids of a Layout (time | node | sequence) for one node: unique\n"
             "across a fleet whose live processes hold distinct node ids (see lease_node_id()),\n"
             "strictly increasing within the process, lock-free across threads.\n\n"
             "node is an int in [0, layout.max_node] (ValueError naming the range otherwise);\n"
             "floor, an id of the layout, makes the first id larger than it (a previous\n"
             "holder's high-water mark).");

PyType_Slot Snowflake_slots[] = {
    {Py_tp_doc, const_cast<char*>(Snowflake_doc)},
    {Py_tp_new, reinterpret_cast<void*>(Snowflake_new)},
    {Py_tp_dealloc, reinterpret_cast<void*>(Snowflake_dealloc)},
    {Py_tp_repr, reinterpret_cast<void*>(Snowflake_repr)},
    {Py_tp_iter, reinterpret_cast<void*>(PyObject_SelfIter)},
    {Py_tp_iternext, reinterpret_cast<void*>(Snowflake_iternext)},
    {Py_tp_methods, Snowflake_methods},
    {Py_tp_getset, Snowflake_getset},
    {Py_tp_members, Snowflake_members},
    {0, nullptr},
};

PyType_Spec Snowflake_spec = {
    "atomic_counter.SnowflakeCounter",
    sizeof(SnowflakeObject),
    0,
    Py_TPFLAGS_DEFAULT,
    Snowflake_slots,
};

}  // namespace

namespace atomic_counter::python {

PyType_Spec* snowflake_counter_spec() { return &Snowflake_spec; }

}  // namespace atomic_counter::python
