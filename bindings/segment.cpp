// atomic_counter.SegmentCounter, its C half: hands out the values of blocks that its Python
// half (atomic_counter/segment.py: the engine) reserved in a database, so that next() costs
// what Counter.next() does and never waits on the database while a block is at hand. next() is a
// method of this very type, not of a Python subclass, because CPython 3.11 specializes a call of
// a C method only on instances of its own type (a subclass costs 6 ns more a call, a method
// stored per instance 10 ns); segment.py adds the type's Python methods to it (see below).
//
// State: the block in use, [next, end), and at most one spare block, reserved ahead. next()
// returns next++ while next < end; at the end of the block it moves to the spare and calls the
// engine's `need` (which reserves another spare in the engine's thread); with no spare either,
// it waits here, without the GIL, until the engine offers a block, fails, the counter closes, or
// the timeout passes. The engine offers blocks one at a time, in the order the database reserved
// them, so the values a process hands out strictly increase.
//
// The interface with segment.py, all of it (segment.py documents the same list):
//   Python -> C, methods of this type:
//     _bind(engine, need, collected, timeout, timeout_error, timeout_message, refused_error,
//           prefix)              once, by __init__ (prefix: "SegmentCounter 'name'", for messages)
//     _offer(next, end) -> bool   a reserved block, in order; returns whether a spare is wanted.
//                                 A block that does not start at or above the end of the last one
//                                 accepted is refused: the store went back (design.md, Segments,
//                                 R2). The counter then stops: this and every later draw raise
//                                 refused_error.
//     _fail(error)                the engine stopped for good: stalled and later draws raise a
//                                 copy of `error` (chained to it)
//     _note(error)                the last failure the engine retries, named by a timeout
//     _close() -> (next, end, spare_next, spare_end)   stops the cursor; what was left unused
//     _state() -> (next, end, has_spare, stalls)
//     _poll() -> int | None      next() without a wait: None when no value is at hand
//   C -> Python, callables handed to _bind (never looked up by name):
//     need()           when the spare goes into use, and once when a draw starts to wait
//     collected(next, end, spare_next, spare_end)      at dealloc of a counter never closed
//   A draw that waits crosses into Python at most once (need), and only when it starts waiting.
//
// Threads: with the GIL, every method runs whole, which is what makes next++ safe; a
// free-threaded build takes the wait state's mutex around the cursor instead. The mutex and
// condition variable order only the waits: a waiting draw sleeps without the GIL until
// `events` (bumped under the mutex by _offer, _fail and _close) moves.
#include "common.hpp"

#include <atomic_counter/detail/error.hpp>

#include <structmember.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <new>

namespace {

using namespace atomic_counter::python;

struct wait_state {
    std::mutex mutex;
    std::condition_variable changed;
    std::uint64_t events = 0;  // offers, failures and the close, under mutex
};

struct SegmentObject {
    PyObject_HEAD std::uint64_t next;
    std::uint64_t end;
    std::uint64_t spare_next;
    std::uint64_t spare_end;
    bool has_spare;
    bool closed;
    std::uint64_t stalls;      // next() calls that found no block at hand
    std::uint64_t accepted;    // the end of the last block accepted: no block may start below
    unsigned long generation;  // the fork generation of the process that created it
    double timeout;            // seconds a draw waits for a block
    PyObject* engine;          // segment.py's engine, for its Python methods; C never calls it
    PyObject* need;            // bound by _bind; null before
    PyObject* collected;
    PyObject* timeout_error;  // the exception type of a draw that waited too long
    PyObject* timeout_message;
    PyObject* refused_error;  // the exception type of a block below `accepted`
    PyObject* prefix;         // "SegmentCounter 'name'"
    PyObject* failure;        // set by _fail: why the counter stopped for good
    PyObject* last_error;     // set by _note
    PyObject* weakrefs;       // the engine and the exit handler hold the counter weakly
    wait_state* wait;
};

SegmentObject* as_segment(PyObject* self) {
    return reinterpret_cast<SegmentObject*>(self);
}

// Locks the cursor's fields in a free-threaded build; nothing with the GIL.
class guard {
public:
    explicit guard(SegmentObject* obj) noexcept
#ifdef Py_GIL_DISABLED
        : lock_(obj->wait->mutex)
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
    obj->next = obj->end = obj->spare_next = obj->spare_end = obj->stalls = obj->accepted = 0;
    obj->has_spare = obj->closed = false;
    obj->generation = current_fork_generation();
    obj->timeout = 0;
    obj->engine = obj->need = obj->collected = obj->timeout_error = obj->timeout_message =
        obj->refused_error = obj->prefix = obj->failure = obj->last_error = obj->weakrefs = nullptr;
    obj->wait = new (std::nothrow) wait_state();
    if (obj->wait == nullptr) {
        return PyErr_NoMemory();
    }
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
    if (obj->collected == nullptr || obj->closed) {
        return;
    }
    // A dealloc may run while an exception is set: keep it across the call.
#if SEGMENT_HAS_RAISED_EXCEPTION
    PyObject* saved = PyErr_GetRaisedException();
#else
    PyObject *type = nullptr, *value = nullptr, *traceback = nullptr;
    PyErr_Fetch(&type, &value, &traceback);
#endif
    owned done(PyObject_CallFunction(
        obj->collected, "(KKKK)", static_cast<unsigned long long>(obj->next),
        static_cast<unsigned long long>(obj->end),
        static_cast<unsigned long long>(obj->has_spare ? obj->spare_next : 0),
        static_cast<unsigned long long>(obj->has_spare ? obj->spare_end : 0)));
    if (!done) {
        PyErr_WriteUnraisable(obj->collected);
    }
#if SEGMENT_HAS_RAISED_EXCEPTION
    PyErr_SetRaisedException(saved);
#else
    PyErr_Restore(type, value, traceback);
#endif
}

int Segment_clear(PyObject* self) {
    SegmentObject* obj = as_segment(self);
    Py_CLEAR(obj->engine);
    Py_CLEAR(obj->need);
    Py_CLEAR(obj->collected);
    Py_CLEAR(obj->timeout_error);
    Py_CLEAR(obj->timeout_message);
    Py_CLEAR(obj->refused_error);
    Py_CLEAR(obj->prefix);
    Py_CLEAR(obj->failure);
    Py_CLEAR(obj->last_error);
    return 0;
}

void Segment_dealloc(PyObject* self) {
    SegmentObject* obj = as_segment(self);
    PyObject_GC_UnTrack(self);
    if (obj->weakrefs != nullptr) {
        PyObject_ClearWeakRefs(self);
    }
    tell_engine_collected(obj);
    Segment_clear(self);
    delete obj->wait;
    free_object_memory(self);
}

int Segment_traverse(PyObject* self, visitproc visit, void* arg) {
    SegmentObject* obj = as_segment(self);
    Py_VISIT(obj->engine);
    Py_VISIT(obj->need);
    Py_VISIT(obj->collected);
    Py_VISIT(obj->timeout_error);
    Py_VISIT(obj->timeout_message);
    Py_VISIT(obj->refused_error);
    Py_VISIT(obj->prefix);
    Py_VISIT(obj->failure);
    Py_VISIT(obj->last_error);
    Py_VISIT(Py_TYPE(self));
    return 0;
}

// Wakes the draws that wait for a block.
void tell_waiters(SegmentObject* obj) {
    {
        std::lock_guard<std::mutex> lock(obj->wait->mutex);
        ++obj->wait->events;
    }
    obj->wait->changed.notify_all();
}

// Records `error` as the reason the counter stopped (the first one stays), wakes the waiters.
void stop_with(SegmentObject* obj, PyObject* error) {
    {
        // Nothing is released under the mutex.
        std::lock_guard<std::mutex> lock(obj->wait->mutex);
        if (obj->failure == nullptr) {
            Py_INCREF(error);
            obj->failure = error;
        }
    }
    tell_waiters(obj);
}

// A block below the end of one already accepted: the counter stops with refused_error, which
// is also raised to the engine.
PyObject* refuse_block(SegmentObject* obj, std::uint64_t lo, std::uint64_t hi,
                       std::uint64_t accepted) {
    owned message(PyUnicode_FromFormat(
        "%U: the store handed out [%llu, %llu), below %llu, the end of a block this counter had "
        "already: its sequence went back (a restore, a failover that lost writes, an edit by "
        "hand), and values handed out before could repeat. The counter stops; move the "
        "sequence above everything reserved with SegmentCounter.skip_ahead(store, name, "
        "to=...) once every process that uses it has stopped: the last value handed out + 1",
        obj->prefix, static_cast<unsigned long long>(lo), static_cast<unsigned long long>(hi),
        static_cast<unsigned long long>(accepted)));
    if (!message) {
        return nullptr;
    }
    owned error(PyObject_CallFunctionObjArgs(obj->refused_error, message.get(), nullptr));
    if (!error) {
        return nullptr;
    }
    stop_with(obj, error.get());
    PyErr_SetObject(obj->refused_error, error.get());
    return nullptr;
}

bool failed(SegmentObject* obj) {
    std::lock_guard<std::mutex> lock(obj->wait->mutex);
    return obj->failure != nullptr;
}

// What next() found: a value, a move to the spare (then need), or nothing (then a wait); or a
// closed cursor, or one copied into a fork child, which holds the parent's blocks.
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

// Raises a fresh copy of the engine's failure, chained to it (raising the same object again
// would grow its traceback with every draw).
PyObject* raise_failure(SegmentObject* obj) {
    PyObject* failure = obj->failure;
    owned args(PyObject_GetAttrString(failure, "args"));
    owned fresh(args
                    ? PyObject_CallObject(reinterpret_cast<PyObject*>(Py_TYPE(failure)), args.get())
                    : nullptr);
    if (!fresh) {
        PyErr_Clear();
        PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(failure)), failure);
        return nullptr;
    }
    Py_INCREF(failure);
    PyException_SetCause(fresh.get(), failure);  // steals the reference
    PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(fresh.get())), fresh.get());
    return nullptr;
}

PyObject* raise_timeout(SegmentObject* obj) {
    owned message(
        obj->last_error != nullptr
            ? PyUnicode_FromFormat("%U (last error: %R)", obj->timeout_message, obj->last_error)
            : PyUnicode_FromFormat("%U", obj->timeout_message));
    if (message) {
        PyErr_SetObject(obj->timeout_error, message.get());
    }
    return nullptr;
}

std::uint64_t events_now(SegmentObject* obj) {
    std::lock_guard<std::mutex> lock(obj->wait->mutex);
    return obj->wait->events;
}

// Whether a draw that found nothing would find something now: a block, a failure, the close.
bool anything_new(SegmentObject* obj) {
    std::lock_guard<std::mutex> lock(obj->wait->mutex);
    return obj->next < obj->end || obj->has_spare || obj->closed || obj->failure != nullptr;
}

// Waits, without the GIL, until `events` moves past `seen` (a block offered, the engine
// failed, the counter closed) or `deadline` passes. Returns false on the deadline.
bool wait_for_block(SegmentObject* obj, std::uint64_t seen,
                    std::chrono::steady_clock::time_point deadline) {
    wait_state* w = obj->wait;
    PyThreadState* thread = PyEval_SaveThread();
    bool moved = false;
    {
        std::unique_lock<std::mutex> lock(w->mutex);
        moved = w->changed.wait_until(lock, deadline, [&] { return w->events != seen; });
    }
    PyEval_RestoreThread(thread);
    return moved;
}

PyDoc_STRVAR(Segment_next_doc,
             "next($self, /)\n--\n\n"
             "Return the next value: unique across every process that uses the sequence, larger "
             "than\nevery value this counter handed out before.\n\n"
             "Raises SegmentRefusedError when the store could hand out a value twice, "
             "StoreTimeoutError\n(a TimeoutError) when no block arrives within the counter's "
             "timeout, OverflowError when\nthe sequence is used up, ValueError after close(), "
             "RuntimeError in a fork child.");

// next() and _poll(): a value; with no value at hand, next() waits for a block and _poll()
// returns None (having asked the engine for one).
template <bool may_wait>
PyObject* draw(PyObject* self) {
    SegmentObject* obj = as_segment(self);
    bool waiting = false;
    std::chrono::steady_clock::time_point deadline;
    for (;;) {
        std::uint64_t value = 0;
        switch (take_one(obj, &value)) {
        case take::value:
            return PyLong_FromUnsignedLongLong(value);
        case take::moved: {
            // The spare is in use: ask for the next one. A failure to ask is the Python half's
            // to report; this value is ours either way.
            owned asked(PyObject_CallNoArgs(obj->need));
            if (!asked) {
                return nullptr;
            }
            return PyLong_FromUnsignedLongLong(value);
        }
        case take::empty:
            if (obj->need == nullptr) {
                PyErr_SetString(PyExc_ValueError,
                                "SegmentCounter.next(): the counter was never opened");
                return nullptr;
            }
            if (failed(obj)) {
                return raise_failure(obj);
            }
            if (!waiting) {
                waiting = true;
                deadline = std::chrono::steady_clock::now() +
                           std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                               std::chrono::duration<double>(obj->timeout));
                owned asked(PyObject_CallNoArgs(obj->need));
                if (!asked) {
                    return nullptr;
                }
                continue;  // the call may have let the engine offer a block
            }
            if (!may_wait) {
                Py_RETURN_NONE;
            }
            {
                // The snapshot comes before the second look: a block offered after it moves
                // `events`, one offered before it is seen by the look.
                const std::uint64_t seen = events_now(obj);
                if (!anything_new(obj) && !wait_for_block(obj, seen, deadline) &&
                    !anything_new(obj)) {
                    return raise_timeout(obj);
                }
            }
            continue;
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

PyObject* Segment_next(PyObject* self, PyObject* Py_UNUSED(ignored)) {
    return draw<true>(self);
}

// _poll(): next() that never waits: None when no value is at hand (anext() then waits for one
// in a worker thread, so that an event loop never blocks).
PyObject* Segment_poll(PyObject* self, PyObject* Py_UNUSED(ignored)) {
    return draw<false>(self);
}

// for value in counter: as next() (the sequence never ends: StopIteration is never raised).
PyObject* Segment_iternext(PyObject* self) {
    return draw<true>(self);
}

// Replaces a reference field with a new reference to `value` (or null for None).
void store_field(PyObject** field, PyObject* value) {
    PyObject* old = *field;
    *field = value == Py_None ? nullptr : value;
    Py_XINCREF(*field);
    Py_XDECREF(old);
}

// _bind(engine, need, collected, timeout, timeout_error, timeout_message, refused_error,
// prefix): once, by __init__.
PyObject* Segment_bind(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
    SegmentObject* obj = as_segment(self);
    if (nargs != 8 || PyCallable_Check(args[1]) == 0 || PyCallable_Check(args[2]) == 0 ||
        !PyFloat_Check(args[3]) || !PyUnicode_Check(args[5]) || !PyUnicode_Check(args[7])) {
        PyErr_SetString(PyExc_TypeError,
                        "_bind() takes (engine, need, collected, timeout: float, timeout_error, "
                        "timeout_message: str, refused_error, prefix: str)");
        return nullptr;
    }
    if (obj->need != nullptr) {
        PyErr_SetString(PyExc_RuntimeError, "SegmentCounter: the counter was opened already");
        return nullptr;
    }
    obj->timeout = PyFloat_AsDouble(args[3]);
    store_field(&obj->engine, args[0]);
    store_field(&obj->need, args[1]);
    store_field(&obj->collected, args[2]);
    store_field(&obj->timeout_error, args[4]);
    store_field(&obj->timeout_message, args[5]);
    store_field(&obj->refused_error, args[6]);
    store_field(&obj->prefix, args[7]);
    Py_RETURN_NONE;
}

// _offer(next, end): a block the engine reserved, in order. It becomes the block in use when
// that one is used up, the spare otherwise. Returns whether a spare is still wanted.
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
    bool below = false;
    std::uint64_t accepted = 0;
    {
        std::lock_guard<std::mutex> lock(obj->wait->mutex);
        accepted = obj->accepted;
        if (obj->closed || lo >= hi) {
            wanted = false;
        } else if (lo < obj->accepted) {
            below = true;  // the store went back: never hand out from this block
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
        if (!below && !obj->closed && lo < hi) {
            obj->accepted = hi;
        }
    }
    if (below) {
        return refuse_block(obj, lo, hi, accepted);
    }
    tell_waiters(obj);
    return PyBool_FromLong(wanted ? 1 : 0);
}

// _fail(error): the engine stopped for good.
PyObject* Segment_fail(PyObject* self, PyObject* error) {
    stop_with(as_segment(self), error);
    Py_RETURN_NONE;
}

// _note(error): the last failure the engine retries (None: forget it).
PyObject* Segment_note(PyObject* self, PyObject* error) {
    store_field(&as_segment(self)->last_error, error);
    Py_RETURN_NONE;
}

// _close() -> (next, end, spare_next, spare_end): stops handing out values and returns what
// was left unused (the gap this process leaves).
PyObject* Segment_close(PyObject* self, PyObject* Py_UNUSED(ignored)) {
    SegmentObject* obj = as_segment(self);
    std::uint64_t left[4] = {0, 0, 0, 0};
    {
        std::lock_guard<std::mutex> lock(obj->wait->mutex);
        left[0] = obj->next;
        left[1] = obj->end;
        if (obj->has_spare) {
            left[2] = obj->spare_next;
            left[3] = obj->spare_end;
        }
        obj->closed = true;
        obj->next = obj->end;
        obj->has_spare = false;
        ++obj->wait->events;
    }
    obj->wait->changed.notify_all();
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
        std::lock_guard<std::mutex> lock(obj->wait->mutex);
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
    {"_poll", Segment_poll, METH_NOARGS, nullptr},
    {"_bind", as_cfunction(Segment_bind), METH_FASTCALL, nullptr},
    {"_offer", as_cfunction(Segment_offer), METH_FASTCALL, nullptr},
    {"_fail", Segment_fail, METH_O, nullptr},
    {"_note", Segment_note, METH_O, nullptr},
    {"_close", Segment_close, METH_NOARGS, nullptr},
    {"_state", Segment_state, METH_NOARGS, nullptr},
    {nullptr, nullptr, 0, nullptr},
};

PyMemberDef Segment_members[] = {
    {"_engine", T_OBJECT, offsetof(SegmentObject, engine), READONLY, nullptr},
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
