// bindings/methods.hpp: the methods every counter type shares (next, __next__, next_many,
// current, set, advance_to, lead_us, the int properties), written once over a *kind*: what a type
// supplies about itself. Each instantiation compiles to what a hand-written method for that type
// would (the hot ones are checked in the benchmark suite).
//
// A kind K has:
//   K::name                 the Python type name, for messages ("Counter")
//   K::core                 the C++ object the type wraps
//   K::hold(self, use, method)
//                           the way from a Python object to its core for the rest of a scope:
//                           `if (!hold) return nullptr;` (a Python exception is set), then
//                           `*hold` / `hold->`. It is where a type checks what applies to it: a
//                           fork (Counter restarts, SnowflakeCounter refuses to draw), a closed
//                           shared counter (its pin keeps the core alive during the call).
//   K::draw(core)           one id (the GIL-exclusive draw where that is safe; see draw_one)
//   K::fail(self, call)     translates the C++ exception being handled; returns nullptr
//   K::bulk_item(self)      the memoryview format of next_many(): 'Q', or 'q' for int64 ids
//                           (fixed for the object's life, so it needs no hold)
// Everything that can run Python code (argument conversion, allocation, acquiring a caller's
// buffer) happens before the hold is taken, and the result object is built after it is dropped.
#ifndef ATOMIC_COUNTER_BINDINGS_METHODS_HPP
#define ATOMIC_COUNTER_BINDINGS_METHODS_HPP

#include "bulk.hpp"
#include "common.hpp"

#include <atomic_counter/id_block.hpp>

#include <cstdint>
#include <functional>

namespace atomic_counter::python {

// What a method does with the core: reading it, or drawing from (or storing into) it.
enum class core_use { read, draw };

// The hold of a type whose core lives inside the Python object and is never taken away while a
// method runs (Counter, TimeCounter): a pointer, always valid.
template <class Core>
class core_ref {
public:
    explicit core_ref(Core* core) noexcept : core_(core) {}
    explicit operator bool() const noexcept { return true; }
    Core& operator*() const noexcept { return *core_; }
    Core* operator->() const noexcept { return core_; }

private:
    Core* core_;
};

// The failure translation of the types whose cores throw only the standard exceptions.
struct standard_errors {
    static PyObject* fail(PyObject* Py_UNUSED(self), where const& call) noexcept {
        return set_python_error(call);
    }
};

// What Counter and TimeCounter share: draws that the GIL already excludes (draw_one), uint64 ids.
struct in_process_kind : standard_errors {
    template <class Core>
    static std::uint64_t draw(Core& core) {
        return draw_one(core);
    }
    static char bulk_item(PyObject* Py_UNUSED(self)) noexcept { return 'Q'; }
};

// next() and __next__.
template <class K>
PyObject* method_next(PyObject* self, PyObject* Py_UNUSED(ignored)) {
    std::uint64_t value = 0;
    {
        typename K::hold core(self, core_use::draw, "next");
        if (!core) {
            return nullptr;
        }
        try {
            value = K::draw(*core);
        } catch (...) {
            return K::fail(self, where(K::name, "next"));
        }
    }
    return PyLong_FromUnsignedLongLong(value);
}

template <class K>
PyObject* method_iternext(PyObject* self) {
    return method_next<K>(self, nullptr);
}

// next_many(n, out=None): n ids reserved with one atomic step (under the hold), then written
// (after it, without the GIL when there are many: the block is this caller's alone) into a fresh
// bytearray, returned as a memoryview of format K::bulk_item, or into the caller's buffer `out`,
// returned as given. See bulk.hpp for both buffers.
template <class K>
PyObject* method_next_many(PyObject* self, PyObject* const* args, Py_ssize_t nargs,
                           PyObject* kwnames) {
    const where call(K::name, "next_many");
    char const* const parameters[] = {"n", "out"};
    PyObject* given[2] = {nullptr, nullptr};
    std::uint64_t n = 0;
    if (!bind_arguments(call, args, nargs, kwnames, parameters, 2, 1, given) ||
        !to_bulk_count(given[0], call, &n)) {
        return nullptr;
    }
    PyObject* const out = given[1] == Py_None ? nullptr : given[1];
    const char item = K::bulk_item(self);
    PyObject* module = PyType_GetModule(Py_TYPE(self));  // borrowed: the type holds it
    if (module == nullptr) {
        return nullptr;
    }
    bulk_names const& names = bulk_names_of(module);
    owned fresh;
    caller_buffer buffer;
    std::uint64_t* ids = nullptr;
    if (out == nullptr) {
        fresh.reset(new_id_bytes(call, n));
        if (!fresh) {
            return nullptr;
        }
        ids = reinterpret_cast<std::uint64_t*>(PyByteArray_AsString(fresh.get()));
    } else {
        auto count = static_cast<Py_ssize_t>(n);
        if (!acquire_ids(buffer, out, call, "out", access::write,
                         item == 'q' ? int64_items : uint64_items, &count, names)) {
            return nullptr;
        }
        ids = static_cast<std::uint64_t*>(buffer.data());
    }
    atomic_counter::id_block block;
    {
        typename K::hold core(self, core_use::draw, "next_many");
        if (!core) {
            return nullptr;
        }
        try {
            block = core->next_block(static_cast<std::size_t>(n));
        } catch (...) {
            return K::fail(self, call);
        }
    }
    write_out(block.size() * 8, [&] { block.write(ids); });
    if (out != nullptr) {
        return Py_NewRef(out);
    }
    return id_view(fresh.get(), item, names);
}

// A method without arguments returning an int the core computes: current(), lead_us(),
// lead_ns().
template <class K, auto Get>
PyObject* method_u64(PyObject* self, PyObject* Py_UNUSED(ignored)) {
    std::uint64_t value = 0;
    {
        typename K::hold core(self, core_use::read, nullptr);
        if (!core) {
            return nullptr;
        }
        value = std::invoke(Get, *core);
    }
    return PyLong_FromUnsignedLongLong(value);
}

// A read-only int property: base, interval, limit.
template <class K, auto Get>
PyObject* property_u64(PyObject* self, void* Py_UNUSED(closure)) {
    return method_u64<K, Get>(self, nullptr);
}

// The stores: one int argument, converted first, then applied to the core.
struct set_op {
    static constexpr char const* method = "set";
    static constexpr char const* arg = "val";
    template <class Core>
    static void apply(Core& core, std::uint64_t value) {
        core.set(value);
    }
};

struct advance_to_op {
    static constexpr char const* method = "advance_to";
    static constexpr char const* arg = "value";
    template <class Core>
    static void apply(Core& core, std::uint64_t value) {
        core.advance_to(value);
    }
};

template <class K, class Op>
PyObject* method_store(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
    const where call(K::name, Op::method);
    std::uint64_t value = 0;
    if (!one_u64_argument(call, Op::arg, args, nargs, kwnames, &value)) {
        return nullptr;
    }
    {
        typename K::hold core(self, core_use::draw, Op::method);
        if (!core) {
            return nullptr;
        }
        try {
            Op::apply(*core, value);
        } catch (...) {
            return K::fail(self, call);
        }
    }
    Py_RETURN_NONE;
}

// The method table entries every counter type has: next, next_many and current, documented by
// <Type>_next_doc, <Type>_next_many_doc and <Type>_current_doc.
#define ATOMIC_COUNTER_DRAW_METHODS(K, Type)                                                       \
    next_method<K>(Type##_next_doc), next_many_method<K>(Type##_next_many_doc),                    \
        current_method<K>(Type##_current_doc)

template <class K>
constexpr PyMethodDef next_method(char const* doc) {
    return {"next", method_next<K>, METH_NOARGS, doc};
}

template <class K>
PyMethodDef next_many_method(char const* doc) {
    return {"next_many", as_cfunction(method_next_many<K>), METH_FASTCALL | METH_KEYWORDS, doc};
}

template <class K>
constexpr PyMethodDef current_method(char const* doc) {
    return {"current", method_u64<K, &K::core::current>, METH_NOARGS, doc};
}

template <class K, class Op>
PyMethodDef store_method(char const* doc) {
    return {Op::method, as_cfunction(method_store<K, Op>), METH_FASTCALL | METH_KEYWORDS, doc};
}

// A counter type's spec: its docstring, constructor, destructor and repr, iteration by next(),
// its methods and (where it has them) properties and members. The spec and its slots live as
// long as the program, as CPython requires.
struct counter_type {
    char const* doc;
    newfunc construct;
    destructor destroy;
    reprfunc repr;
    iternextfunc iternext;
    PyMethodDef* methods;
    PyGetSetDef* getset = nullptr;
    PyMemberDef* members = nullptr;
};

class type_spec {
public:
    type_spec(char const* name, std::size_t object_size, counter_type const& t) noexcept
        : spec_{name, static_cast<int>(object_size), 0, Py_TPFLAGS_DEFAULT, slots_} {
        std::size_t n = 0;
        const auto add = [&](int slot, void* value) {
            if (value != nullptr) {
                slots_[n++] = {slot, value};
            }
        };
        add(Py_tp_doc, const_cast<char*>(t.doc));
        add(Py_tp_new, reinterpret_cast<void*>(t.construct));
        add(Py_tp_dealloc, reinterpret_cast<void*>(t.destroy));
        add(Py_tp_repr, reinterpret_cast<void*>(t.repr));
        add(Py_tp_iter, reinterpret_cast<void*>(PyObject_SelfIter));
        add(Py_tp_iternext, reinterpret_cast<void*>(t.iternext));
        add(Py_tp_methods, t.methods);
        add(Py_tp_getset, t.getset);
        add(Py_tp_members, t.members);
        slots_[n] = {0, nullptr};
    }
    type_spec(type_spec const&) = delete;
    type_spec& operator=(type_spec const&) = delete;

    PyType_Spec* get() noexcept { return &spec_; }

private:
    PyType_Slot slots_[10] = {};
    PyType_Spec spec_;
};

}  // namespace atomic_counter::python

#endif  // ATOMIC_COUNTER_BINDINGS_METHODS_HPP
