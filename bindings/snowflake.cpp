// atomic_counter._core's SnowflakeCounter: ids of a Layout (time | node | sequence) for one node,
// over include/atomic_counter/snowflake_counter.hpp.
//
// The Layout itself is a pure-Python class (atomic_counter.layout); the constructor reads its
// fields once and keeps the object for the `layout` attribute. The lease methods
// (_extend, _revoke, _seal, _limit_lead, _rebind) are for atomic_counter.lease's NodeLease; a
// counter that no lease governs never reads the monotonic clock. lease_expired becomes
// atomic_counter's LeaseExpiredError, looked up on the type's module when it is raised.
#include "common.hpp"
#include "methods.hpp"

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
    PyObject_HEAD unsigned long generation;  // the fork generation of the process that created it
    ac::snowflake_counter* core;
    PyObject* layout;
    PyObject* weakrefs;  // a lease keeps weak references to its counters
};

SnowflakeObject* as_snowflake(PyObject* self) {
    return reinterpret_cast<SnowflakeObject*>(self);
}

struct snowflake_kind {
    static constexpr char const* name = "SnowflakeCounter";
    using core = ac::snowflake_counter;

    // Draws in a fork child refuse (RuntimeError): the copy holds the parent's node.
    class hold {
    public:
        hold(PyObject* self, core_use how, char const* method) noexcept
            : core_(as_snowflake(self)->core) {
            if (how == core_use::draw && ATOMIC_COUNTER_UNLIKELY(as_snowflake(self)->generation !=
                                                                 current_fork_generation())) {
                refuse_in_child(method, core_->node());
                core_ = nullptr;
            }
        }
        explicit operator bool() const noexcept { return core_ != nullptr; }
        core& operator*() const noexcept { return *core_; }
        core* operator->() const noexcept { return core_; }

    private:
        // Out of line, so the draws that inline the hold stay small.
        ATOMIC_COUNTER_NOINLINE static void refuse_in_child(char const* method,
                                                            std::uint64_t node) noexcept {
            try {
                PyErr_Format(PyExc_RuntimeError,
                             "%s: this counter was copied into a child process by fork() and "
                             "holds the parent's node %llu, so its ids could repeat the "
                             "parent's; create one with a node of the child's own "
                             "(lease_node_id())",
                             where(name, method).text().c_str(),
                             static_cast<unsigned long long>(node));
            } catch (...) {
                PyErr_NoMemory();
            }
        }

        core* core_;
    };

    static std::uint64_t draw(core& c) { return c.next(); }

    // Translates the exception being handled; lease_expired becomes LeaseExpiredError.
    static PyObject* fail(PyObject* self, where const& call) noexcept {
        try {
            throw;
        } catch (ac::lease_expired const& e) {
            PyObject* module = PyType_GetModule(Py_TYPE(self));
            owned error(module != nullptr ? PyObject_GetAttrString(module, "LeaseExpiredError")
                                          : nullptr);
            if (error) {
                PyErr_SetString(error.get(), python_message(e.what(), call).c_str());
            }
            return nullptr;
        } catch (...) {
            return set_python_error(call);
        }
    }

    // Ids of a positive-int64 layout come as int64 ('q'), so NumPy, pandas and pyarrow take them
    // as the signed column a database wants; the others need all 64 bits ('Q').
    static char bulk_item(PyObject* self) noexcept {
        return as_snowflake(self)->core->id_layout().positive_int64() ? 'q' : 'Q';
    }
};

void SnowflakeCounter_dealloc(PyObject* self) {
    if (as_snowflake(self)->weakrefs != nullptr) {
        PyObject_ClearWeakRefs(self);
    }
    delete as_snowflake(self)->core;
    Py_XDECREF(as_snowflake(self)->layout);
    free_object_memory(self);
}

// Refuses a layout argument that is not a Layout: TypeError naming the call and the argument.
void on_error_not_a_layout(PyObject* layout) {
    const bool is_class = PyType_Check(layout) != 0;
    owned type_name(is_class ? PyObject_GetAttrString(layout, "__name__") : type_name_of(layout));
    if (type_name) {
        PyErr_Format(PyExc_TypeError,
                     "SnowflakeCounter() argument 'layout' must be a Layout (such as "
                     "Layout.INT64, or Layout.preset(name) for a preset by name), not %s%U",
                     is_class ? "the class " : "", type_name.get());
    }
}

// An attribute of the layout argument. An object without it (a preset's name, None) or a class
// (Layout itself, whose fields are descriptors) is not a Layout: TypeError, not the
// AttributeError of the lookup.
PyObject* layout_attribute(PyObject* layout, char const* name) {
    if (PyType_Check(layout) != 0) {
        on_error_not_a_layout(layout);
        return nullptr;
    }
    PyObject* value = PyObject_GetAttrString(layout, name);
    if (value == nullptr && PyErr_ExceptionMatches(PyExc_AttributeError) != 0) {
        PyErr_Clear();
        on_error_not_a_layout(layout);
    }
    return value;
}

// Reads a non-negative int attribute of the layout object.
bool layout_field(PyObject* layout, char const* name, std::uint64_t* out) {
    owned value(layout_attribute(layout, name));
    if (!value) {
        return false;
    }
    return to_u64(value.get(), "SnowflakeCounter() layout", name, out);
}

PyObject* SnowflakeCounter_new(PyTypeObject* type, PyObject* args, PyObject* kwargs) {
    static char const* const names[] = {"layout", "node", "floor", nullptr};
    const where call(snowflake_kind::name, "");
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
        !to_u64(node_obj, call, "node", &node) ||
        !to_optional_u64(floor_obj, call, "floor", &floor)) {
        return nullptr;
    }
    owned positive(layout_attribute(layout_obj, "positive_int64"));
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
        return set_python_error(call);
    }
    return self.release();
}

PyDoc_STRVAR(SnowflakeCounter_next_doc,
             "next($self, /)\n--\n\n"
             "Return the next id: (ticks since the layout's epoch, this node, a sequence).\n\n"
             "Strictly increasing for every caller in the process, unique across nodes. When the\n"
             "sequence of a tick is used up the id borrows from the next tick (see lead_ns());\n"
             "a clock step back never makes an id go back. Raises OverflowError when the\n"
             "layout's time runs out, and LeaseExpiredError when a lease governs the counter\n"
             "and could not be confirmed in time.");

PyDoc_STRVAR(SnowflakeCounter_next_many_doc,
             "next_many($self, /, n, out=None)\n--\n\n"
             "Draw n ids at once (one atomic step), as a memoryview: of int64 (format 'q') for a\n"
             "layout whose ids stay positive int64 (positive_int64, as every preset but\n"
             "TIME_COUNTER), so numpy, pandas and pyarrow see a signed column; of uint64 ('Q')\n"
             "otherwise. With out, writes them into that buffer instead and returns it (as\n"
             "Counter.next_many(); int64 or uint64 items for a positive-int64 layout, uint64\n"
             "otherwise). n is an int in [0, 2**60 - 1], and at most the lease's lead limit\n"
             "allows (ValueError).");

PyDoc_STRVAR(SnowflakeCounter_current_doc,
             "current($self, /)\n--\n\nReturn the last id handed out.");

PyDoc_STRVAR(SnowflakeCounter_lead_ns_doc,
             "lead_ns($self, /)\n--\n\n"
             "Return how far the last id's time runs ahead of the clock, in nanoseconds.");

// The lease's methods (atomic_counter.lease): two ints, or none.
bool two_u64_arguments(where const& call, char const* first, char const* second,
                       PyObject* const* args, Py_ssize_t nargs, std::uint64_t* a,
                       std::uint64_t* b) {
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "%s takes (%s, %s)", call.text().c_str(), first, second);
        return false;
    }
    return to_u64(args[0], call, first, a) && to_u64(args[1], call, second, b);
}

// _extend(deadline_ns, max_id): the lease's limits (deadline on time.monotonic_ns()'s clock).
PyObject* SnowflakeCounter_extend(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
    std::uint64_t deadline = 0, max_id = 0;
    if (!two_u64_arguments(where(snowflake_kind::name, "_extend"), "deadline_ns", "max_id", args,
                           nargs, &deadline, &max_id)) {
        return nullptr;
    }
    snowflake_kind::hold(self, core_use::read, "_extend")->extend(deadline, max_id);
    Py_RETURN_NONE;
}

PyObject* SnowflakeCounter_revoke(PyObject* self, PyObject* Py_UNUSED(ignored)) {
    snowflake_kind::hold(self, core_use::read, "_revoke")->revoke();
    Py_RETURN_NONE;
}

// _limit_lead(lead_ns): ids never run more than lead_ns ahead of the clock.
PyObject* SnowflakeCounter_limit_lead(PyObject* self, PyObject* arg) {
    std::uint64_t lead = 0;
    if (!to_u64(arg, where(snowflake_kind::name, "_limit_lead"), "lead_ns", &lead)) {
        return nullptr;
    }
    snowflake_kind::hold(self, core_use::read, "_limit_lead")->limit_lead(lead);
    Py_RETURN_NONE;
}

// _rebind(node, floor): move to another node, above everything drawn and above floor.
PyObject* SnowflakeCounter_rebind(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
    const where call(snowflake_kind::name, "_rebind");
    std::uint64_t node = 0, floor = 0;
    if (!two_u64_arguments(call, "node", "floor", args, nargs, &node, &floor)) {
        return nullptr;
    }
    try {
        snowflake_kind::hold(self, core_use::read, "_rebind")->rebind(node, floor);
    } catch (...) {
        return snowflake_kind::fail(self, call);
    }
    Py_RETURN_NONE;
}

PyObject* SnowflakeCounter_repr(PyObject* self) {
    SnowflakeObject* obj = as_snowflake(self);
    return PyUnicode_FromFormat("atomic_counter.SnowflakeCounter(%R, node=%llu, current=%llu)",
                                obj->layout, static_cast<unsigned long long>(obj->core->node()),
                                static_cast<unsigned long long>(obj->core->current()));
}

PyObject* SnowflakeCounter_get_layout(PyObject* self, void* Py_UNUSED(closure)) {
    return Py_NewRef(as_snowflake(self)->layout);
}

PyMethodDef SnowflakeCounter_methods[] = {
    ATOMIC_COUNTER_DRAW_METHODS(snowflake_kind, SnowflakeCounter),
    {"lead_ns", method_u64<snowflake_kind, &ac::snowflake_counter::lead_ns>, METH_NOARGS,
     SnowflakeCounter_lead_ns_doc},
    {"_extend", as_cfunction(SnowflakeCounter_extend), METH_FASTCALL, nullptr},
    {"_revoke", SnowflakeCounter_revoke, METH_NOARGS, nullptr},
    // _seal() -> int: stops the counter for good; the result is at or above every id drawn.
    {"_seal", method_u64<snowflake_kind, &ac::snowflake_counter::seal>, METH_NOARGS, nullptr},
    {"_limit_lead", SnowflakeCounter_limit_lead, METH_O, nullptr},
    {"_rebind", as_cfunction(SnowflakeCounter_rebind), METH_FASTCALL, nullptr},
    {nullptr, nullptr, 0, nullptr},
};

PyGetSetDef SnowflakeCounter_getset[] = {
    {"node", property_u64<snowflake_kind, &ac::snowflake_counter::node>, nullptr,
     "The node id in the ids drawn now.", nullptr},
    {"layout", SnowflakeCounter_get_layout, nullptr, "The Layout of the ids.", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

// The Limited API's way to make instances weak-referenceable.
PyMemberDef SnowflakeCounter_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(SnowflakeObject, weakrefs), READONLY, nullptr},
    {nullptr, 0, 0, 0, nullptr},
};

PyDoc_STRVAR(SnowflakeCounter_doc,
             "SnowflakeCounter(layout, node, *, floor=None)\n--\n\n"
             "Snowflake-style ids of a Layout (time | node | sequence) for one node: unique\n"
             "across a fleet whose live processes hold distinct node ids (see lease_node_id()),\n"
             "strictly increasing within the process, lock-free across threads.\n\n"
             "node is an int in [0, layout.max_node] (ValueError naming the range otherwise);\n"
             "floor, an id of the layout, makes the first id larger than it (a previous\n"
             "holder's high-water mark).");

type_spec SnowflakeCounter_spec("atomic_counter.SnowflakeCounter", sizeof(SnowflakeObject),
                                {SnowflakeCounter_doc, SnowflakeCounter_new,
                                 SnowflakeCounter_dealloc, SnowflakeCounter_repr,
                                 method_iternext<snowflake_kind>, SnowflakeCounter_methods,
                                 SnowflakeCounter_getset, SnowflakeCounter_members});

}  // namespace

namespace atomic_counter::python {

PyType_Spec* snowflake_counter_spec() {
    return SnowflakeCounter_spec.get();
}

}  // namespace atomic_counter::python
