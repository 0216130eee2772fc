// atomic_counter.SegmentCounter, its C half: hands out the values of blocks that its Python
// half (atomic_counter/segment.py: the engine, and the methods it adds to this type) reserved in
// a database, so that next() costs what Counter.next() does and never waits on the database
// while a block is at hand. next() is a method of this very type, not of a Python subclass,
// because CPython 3.11 specializes a call of a C method only on instances of its own type (a
// subclass costs 6 ns more a call, a method stored per instance 10 ns).
//
// State: the block in use, [next, end), and at most one spare block, reserved ahead. next()
// returns next++ while next < end; at the end of the block it moves to the spare and calls
// engine.need() (the engine then reserves another spare in its own thread); with no spare
// either, it calls engine.stalled(self), which waits (without the GIL) until the engine offers
// a block, or raises. The engine offers blocks one at a time, in the order the database
// reserved them, so the values a process hands out strictly increase.
//
// Threads: with the GIL, every method runs whole (the engine is called with no state half
// changed), which is what makes next++ safe; a free-threaded build takes a mutex instead, never
// held across a call into the engine.
#include "common.hpp"

#include <atomic_counter/detail/error.hpp>

#include <structmember.h>

#include <cstdint>
#include <mutex>

namespace {

using namespace atomic_counter::python;

struct SegmentObject {
    PyObject_HEAD std::uint64_t next;
    std::uint64_t end;
    std::uint64_t spare_next;
    std::uint64_t spare_end;
    bool has_spare;
    bool closed;
    std::uint64_t stalls;      // next() calls that found no block at hand
    unsigned long generation;  // the fork generation of the process that created it
    PyObject* engine;          // the Python half, set by __init__ (segment.py); null before
    PyObject* weakrefs;        // the engine and the exit handler hold the counter weakly
#ifdef Py_GIL_DISABLED
    std::mutex* mutex;
#endif
};

SegmentObject* as_segment(PyObject* self) {
    return reinterpret_cast<SegmentObject*>(self);
}

// Locks the cursor's fields in a free-threaded build; nothing with the GIL.
class guard {
public:
    explicit guard(SegmentObject* obj) noexcept
#ifdef Py_GIL_DISABLED
        : lock_(*obj->mutex)
#endif
    {
        (void)obj;
    }

private:
#ifdef Py_GIL_DISABLED
    std::lock_guard<std::mutex> lock_;
#endif
};

// Takes no arguments of its own: __init__, which segment.py adds, takes the constructor's.
PyObject* Segment_new(PyTypeObject* type, PyObject* Py_UNUSED(args), PyObject* Py_UNUSED(kwargs)) {
    owned self(PyType_GenericAlloc(type, 0));
    if (!self) {
        return nullptr;
    }
    SegmentObject* obj = as_segment(self.get());
    obj->next = obj->end = obj->spare_next = obj->spare_end = obj->stalls = 0;
    obj->has_spare = obj->closed = false;
    obj->generation = current_fork_generation();
    obj->engine = nullptr;
    obj->weakrefs = nullptr;
#ifdef Py_GIL_DISABLED
    obj->mutex = new (std::nothrow) std::mutex();
    if (obj->mutex == nullptr) {
        return PyErr_NoMemory();
    }
#endif
    return self.release();
}

// PyErr_GetRaisedException (3.12) where the API we build for has it; PyErr_Fetch, which 3.12
// deprecates, before.
#if (defined(Py_LIMITED_API) && Py_LIMITED_API + 0 >= 0x030C0000) ||                               \
    (!defined(Py_LIMITED_API) && PY_VERSION_HEX >= 0x030C0000)
#define SEGMENT_HAS_RAISED_EXCEPTION 1
#else
#define SEGMENT_HAS_RAISED_EXCEPTION 0
#endif

// A counter collected without close(): the engine stops its thread and gives the unused tail
// back, as close() would, from the values this passes it (the counter itself is going).
void tell_engine_collected(SegmentObject* obj) {
    if (obj->engine == nullptr || obj->closed) {
        return;
    }
    // A dealloc may run while an exception is set: keep it across the call.
#if SEGMENT_HAS_RAISED_EXCEPTION
    PyObject* saved = PyErr_GetRaisedException();
#else
    PyObject *type = nullptr, *value = nullptr, *traceback = nullptr;
    PyErr_Fetch(&type, &value, &traceback);
#endif
    owned done(PyObject_CallMethod(
        obj->engine, "collected", "(KKKK)", static_cast<unsigned long long>(obj->next),
        static_cast<unsigned long long>(obj->end),
        static_cast<unsigned long long>(obj->has_spare ? obj->spare_next : 0),
        static_cast<unsigned long long>(obj->has_spare ? obj->spare_end : 0)));
    if (!done) {
        PyErr_WriteUnraisable(obj->engine);
    }
#if SEGMENT_HAS_RAISED_EXCEPTION
    PyErr_SetRaisedException(saved);
#else
    PyErr_Restore(type, value, traceback);
#endif
}

void Segment_dealloc(PyObject* self) {
    SegmentObject* obj = as_segment(self);
    PyObject_GC_UnTrack(self);
    if (obj->weakrefs != nullptr) {
        PyObject_ClearWeakRefs(self);
    }
    tell_engine_collected(obj);
    Py_CLEAR(obj->engine);
#ifdef Py_GIL_DISABLED
    delete as_segment(self)->mutex;
#endif
    free_object_memory(self);
}

int Segment_traverse(PyObject* self, visitproc visit, void* arg) {
    Py_VISIT(as_segment(self)->engine);
    Py_VISIT(Py_TYPE(self));
    return 0;
}

int Segment_clear(PyObject* self) {
    Py_CLEAR(as_segment(self)->engine);
    return 0;
}

// What next() found: a value, a move to the spare (then _need), or nothing (then _stalled);
// or a closed cursor, or one copied into a fork child, which holds the parent's blocks.
enum class take { value, moved, empty, closed, forked };

take take_one(SegmentObject* obj, std::uint64_t* value) noexcept {
    guard g(obj);
    if (ATOMIC_COUNTER_UNLIKELY(obj->next >= obj->end ||
                                obj->generation != current_fork_generation())) {
        if (obj->generation != current_fork_generation()) {
            return take::forked;
        }
        if (obj->closed) {
            return take::closed;
        }
        if (!obj->has_spare) {
            ++obj->stalls;
            return take::empty;
        }
        obj->next = obj->spare_next;
        obj->end = obj->spare_end;
        obj->has_spare = false;
        *value = obj->next++;
        return take::moved;
    }
    *value = obj->next++;
    return take::value;
}

PyDoc_STRVAR(Segment_next_doc,
             "next($self, /)\n--\n\n"
             "Return the next value: unique across every process that uses the sequence, larger "
             "than\nevery value this counter handed out before.\n\n"
             "Raises SegmentRefusedError when the store could hand out a value twice, TimeoutError "
             "when\nno block arrives within the counter's timeout, OverflowError when the "
             "sequence is used up,\nValueError after close(), RuntimeError in a fork child.");

PyObject* Segment_next(PyObject* self, PyObject* Py_UNUSED(ignored)) {
    SegmentObject* obj = as_segment(self);
    for (;;) {
        std::uint64_t value = 0;
        switch (take_one(obj, &value)) {
        case take::value:
            return PyLong_FromUnsignedLongLong(value);
        case take::moved: {
            // The spare is in use: ask for the next one. A failure to ask is the Python half's
            // to report; this value is ours either way.
            owned asked(PyObject_CallMethod(obj->engine, "need", nullptr));
            if (!asked) {
                return nullptr;
            }
            return PyLong_FromUnsignedLongLong(value);
        }
        case take::empty: {
            if (obj->engine == nullptr) {
                PyErr_SetString(PyExc_ValueError,
                                "SegmentCounter.next(): the counter was never opened");
                return nullptr;
            }
            owned waited(PyObject_CallMethod(obj->engine, "stalled", "(O)", self));
            if (!waited) {
                return nullptr;  // closed, or the database could not be reached in time
            }
            continue;
        }
        case take::closed:
            PyErr_SetString(PyExc_ValueError, "SegmentCounter.next(): the counter is closed");
            return nullptr;
        case take::forked:
            PyErr_SetString(PyExc_RuntimeError,
                            "SegmentCounter.next(): this counter was copied into a child process "
                            "by fork() and holds the parent's blocks, so its values would repeat "
                            "the parent's; create a SegmentCounter in the child");
            return nullptr;
        }
    }
}

// for value in counter: as next() (the sequence never ends: StopIteration is never raised).
PyObject* Segment_iternext(PyObject* self) {
    return Segment_next(self, nullptr);
}

// _offer(next, end): a block the Python half reserved, in order. It becomes the block in use
// when that one is used up, the spare otherwise. Returns whether a spare is still wanted.
PyObject* Segment_offer(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
    const where call("SegmentCounter", "_offer");
    std::uint64_t lo = 0, hi = 0;
    if (nargs != 2 || !to_u64(args[0], call, "next", &lo) || !to_u64(args[1], call, "end", &hi)) {
        if (PyErr_Occurred() == nullptr) {
            PyErr_SetString(PyExc_TypeError, "_offer() takes (next, end)");
        }
        return nullptr;
    }
    SegmentObject* obj = as_segment(self);
    bool wanted = false;
    {
        guard g(obj);
        if (obj->closed || lo >= hi) {
            wanted = false;
        } else if (obj->next >= obj->end) {
            obj->next = lo;
            obj->end = hi;
            wanted = !obj->has_spare;
        } else if (!obj->has_spare) {
            obj->spare_next = lo;
            obj->spare_end = hi;
            obj->has_spare = true;
        } else {
            PyErr_SetString(PyExc_RuntimeError, "_offer(): a block and a spare are at hand");
            return nullptr;
        }
    }
    return PyBool_FromLong(wanted ? 1 : 0);
}

// _close() -> (next, end, spare_next, spare_end): stops handing out values and returns what
// was left unused (the gap this process leaves).
PyObject* Segment_close(PyObject* self, PyObject* Py_UNUSED(ignored)) {
    SegmentObject* obj = as_segment(self);
    std::uint64_t left[4] = {0, 0, 0, 0};
    {
        guard g(obj);
        left[0] = obj->next;
        left[1] = obj->end;
        if (obj->has_spare) {
            left[2] = obj->spare_next;
            left[3] = obj->spare_end;
        }
        obj->closed = true;
        obj->next = obj->end;
        obj->has_spare = false;
    }
    return Py_BuildValue("(KKKK)", static_cast<unsigned long long>(left[0]),
                         static_cast<unsigned long long>(left[1]),
                         static_cast<unsigned long long>(left[2]),
                         static_cast<unsigned long long>(left[3]));
}

// _state() -> (next, end, has_spare, stalls), for the Python half and the tests.
PyObject* Segment_state(PyObject* self, PyObject* Py_UNUSED(ignored)) {
    SegmentObject* obj = as_segment(self);
    std::uint64_t next = 0, end = 0, stalls = 0;
    bool spare = false;
    {
        guard g(obj);
        next = obj->next;
        end = obj->end;
        spare = obj->has_spare;
        stalls = obj->stalls;
    }
    return Py_BuildValue("(KKOK)", static_cast<unsigned long long>(next),
                         static_cast<unsigned long long>(end), spare ? Py_True : Py_False,
                         static_cast<unsigned long long>(stalls));
}

PyMethodDef Segment_methods[] = {
    {"next", Segment_next, METH_NOARGS, Segment_next_doc},
    {"_offer", as_cfunction(Segment_offer), METH_FASTCALL, nullptr},
    {"_close", Segment_close, METH_NOARGS, nullptr},
    {"_state", Segment_state, METH_NOARGS, nullptr},
    {nullptr, nullptr, 0, nullptr},
};

PyMemberDef Segment_members[] = {
    {"_engine", T_OBJECT, offsetof(SegmentObject, engine), 0, nullptr},
    {"__weaklistoffset__", T_PYSSIZET, offsetof(SegmentObject, weakrefs), READONLY, nullptr},
    {nullptr, 0, 0, 0, nullptr},
};

PyDoc_STRVAR(Segment_doc,
             "SegmentCounter's C half; segment.py adds the rest (import it from atomic_counter).");

PyType_Slot Segment_slots[] = {
    {Py_tp_doc, const_cast<char*>(Segment_doc)},
    {Py_tp_new, reinterpret_cast<void*>(Segment_new)},
    {Py_tp_dealloc, reinterpret_cast<void*>(Segment_dealloc)},
    {Py_tp_traverse, reinterpret_cast<void*>(Segment_traverse)},
    {Py_tp_methods, Segment_methods},
    {Py_tp_members, Segment_members},
    {Py_tp_iter, reinterpret_cast<void*>(PyObject_SelfIter)},
    {Py_tp_iternext, reinterpret_cast<void*>(Segment_iternext)},
    {Py_tp_clear, reinterpret_cast<void*>(Segment_clear)},
    {0, nullptr},
};

PyType_Spec Segment_spec = {
    "atomic_counter._SegmentCounter",        sizeof(SegmentObject), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC, Segment_slots,
};

}  // namespace

namespace atomic_counter::python {

PyType_Spec* segment_counter_spec() {
    return &Segment_spec;
}

}  // namespace atomic_counter::python
