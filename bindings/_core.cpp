// atomic_counter._core: the Python types over the C++ core, written against CPython's Limited API
// (Py_LIMITED_API = 3.10, set by CMake) so one abi3 wheel serves every CPython from 3.10 on.
//
// The hot methods (next, current) are plain METH_NOARGS C functions: a binding library would
// cost 1.4x (nanobind) to 7x (pybind11) more per call (DEVELOPERS.md has the figures).
//
// Layout, per type: object struct, dealloc, new, methods (each after its docstring), method table,
// slots, spec. This file holds the module, Counter and TimeCounter; shared.cpp the shared-memory
// types; common.hpp what they share. Only these include Python.h. C++ exceptions never cross
// into CPython: every entry point that calls fallible C++ catches and translates them (see
// set_python_error in common.hpp).
#include "common.hpp"
#include "methods.hpp"

#include <atomic_counter/counter.hpp>
#include <atomic_counter/format.hpp>
#include <atomic_counter/time_counter.hpp>
#include <atomic_counter/version.hpp>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <new>
#include <optional>
#include <string>
#include <string_view>

namespace {

namespace ac = atomic_counter;
using namespace atomic_counter::python;

// ---------------------------------------------------------------------------------------------
// Module state: the types and the datetime objects the static methods build values from.

// The module's types, in the order module_exec creates them.
enum type_index {
    counter_type,
    time_counter_type,
    shared_counter_type,
    shared_time_counter_type,
    snowflake_counter_type,
    segment_counter_type,
    type_count
};

struct module_state {
    PyObject* types[type_count];
    // (datetime.datetime, datetime.timedelta, datetime.timezone.utc), imported by the first call
    // that builds one, so that `import atomic_counter` costs no more than the original's.
    std::atomic<PyObject*> datetime_api;
    // The bulk calls' names (common.hpp), made by module_exec.
    bulk_names names;
};

module_state* state_of(PyObject* module) {
    return static_cast<module_state*>(PyModule_GetState(module));
}

// The datetime tuple of the module state (a borrowed reference), imported on first use.
PyObject* datetime_api(PyObject* module) {
    module_state* st = state_of(module);
    // Acquire: pairs with the release below, so a thread that sees the tuple sees it built.
    if (PyObject* api = st->datetime_api.load(std::memory_order_acquire)) {
        return api;
    }
    owned datetime_module(PyImport_ImportModule("datetime"));
    if (!datetime_module) {
        return nullptr;
    }
    owned timezone(PyObject_GetAttrString(datetime_module.get(), "timezone"));
    owned utc(timezone ? PyObject_GetAttrString(timezone.get(), "utc") : nullptr);
    owned datetime_type(utc ? PyObject_GetAttrString(datetime_module.get(), "datetime") : nullptr);
    owned timedelta_type(datetime_type ? PyObject_GetAttrString(datetime_module.get(), "timedelta")
                                       : nullptr);
    if (!timedelta_type) {
        return nullptr;
    }
    owned api(PyTuple_Pack(3, datetime_type.get(), timedelta_type.get(), utc.get()));
    if (!api) {
        return nullptr;
    }
    PyObject* expected = nullptr;
    // Release: publishes the tuple; a thread that lost the race drops its own.
    if (st->datetime_api.compare_exchange_strong(expected, api.get(), std::memory_order_release,
                                                 std::memory_order_acquire)) {
        return api.release();
    }
    return expected;
}

// ---------------------------------------------------------------------------------------------
// Counter

// fork(): a Counter copied into a child process restarts there as a new Counter would, from
// the clock (never below its value), at the child's first draw or store: the copies no longer
// hand out the parent's next values. A copy whose value is ahead of the clock (the parent drew
// faster than one interval per nanosecond: next_many) would restart right where the parent
// goes on: it refuses instead (RuntimeError), until set() places it. Across processes, ids are
// unique only from a SharedCounter.
constexpr char const* counter_kind_name = "Counter";

struct CounterObject {
    PyObject_HEAD std::atomic<unsigned long>
        generation;  // the fork generation the value belongs to
    ac::counter value;
};

CounterObject* as_counter(PyObject* self) {
    return reinterpret_cast<CounterObject*>(self);
}

// Restarts a fork child's copy from the clock; false (a Python error set) when its value is
// ahead of the clock, unless the caller is set(), which places the value itself.
ATOMIC_COUNTER_NOINLINE bool restart_after_fork(CounterObject* obj, char const* method) noexcept {
    ac::counter& c = obj->value;
    const std::uint64_t now = ac::system_clock{}.now_ns();
    const bool placing = method != nullptr && std::strcmp(method, "set") == 0;
    const std::uint64_t clock = now >= c.base() ? now - c.base() : 0;
    if (c.current() > clock && !placing) {
        try {
            PyErr_Format(PyExc_RuntimeError,
                         "%s: this counter was copied into a child process by fork() while its "
                         "value ran %llu ns ahead of the clock (the parent drew faster than one "
                         "interval per nanosecond), so restarting from the clock would hand out "
                         "the parent's next values; use a SharedCounter across processes, or "
                         "set() the child's value yourself",
                         where(counter_kind_name, method).text().c_str(),
                         static_cast<unsigned long long>(c.current() - clock));
        } catch (...) {
            PyErr_NoMemory();
        }
        return false;  // the generation stays the parent's: every draw refuses
    }
    if (!placing && now >= c.base() && clock <= c.limit()) {
        try {
            c.advance_to(clock);
        } catch (...) {  // unreachable: the value is within limit, the only refusal
        }
    }
    // Relaxed: two threads restarting at once both only raise the value (advance_to).
    obj->generation.store(current_fork_generation(), std::memory_order_relaxed);
    return true;
}

struct counter_kind : in_process_kind {
    static constexpr char const* name = counter_kind_name;
    using core = ac::counter;

    // Draws and stores restart a fork child's copy first.
    class hold : public core_ref<core> {
    public:
        hold(PyObject* self, core_use how, char const* method) noexcept
            : core_ref(&as_counter(self)->value) {
            CounterObject* obj = as_counter(self);
            // Relaxed: a stale read only restarts once more, which never moves the value back.
            if (how == core_use::draw &&
                ATOMIC_COUNTER_UNLIKELY(obj->generation.load(std::memory_order_relaxed) !=
                                        current_fork_generation())) {
                ok_ = restart_after_fork(obj, method);
            }
        }
        explicit operator bool() const noexcept { return ok_; }

    private:
        bool ok_ = true;
    };
};

void Counter_dealloc(PyObject* self) {
    as_counter(self)->value.~basic_counter();
    free_object_memory(self);
}

PyObject* Counter_new(PyTypeObject* type, PyObject* args, PyObject* kwargs) {
    static char const* const names[] = {"base", "now", "interval", nullptr};
    const where call(counter_kind::name, "");
    PyObject* base_obj = nullptr;
    PyObject* now_obj = nullptr;
    PyObject* interval_obj = nullptr;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|OOO:Counter", const_cast<char**>(names),
                                     &base_obj, &now_obj, &interval_obj)) {
        return nullptr;
    }
    std::optional<std::uint64_t> base, now, interval;
    if (!to_optional_u64(base_obj, call, "base", &base) ||
        !to_optional_u64(now_obj, call, "now", &now) ||
        !to_optional_u64(interval_obj, call, "interval", &interval)) {
        return nullptr;
    }
    owned self(PyType_GenericAlloc(type, 0));
    if (!self) {
        return nullptr;
    }
    CounterObject* obj = as_counter(self.get());
    new (&obj->generation) std::atomic<unsigned long>(current_fork_generation());
    try {
        new (&obj->value)
            ac::counter(base.value_or(ac::default_base_ns), now, interval.value_or(1));
    } catch (...) {
        // The C++ object was never constructed: free the memory without running its destructor.
        free_object_memory(self.release());
        return set_python_error(call);
    }
    return self.release();
}

PyDoc_STRVAR(Counter_next_doc,
             "next($self, /)\n--\n\n"
             "Add the interval to the counter and return the new value.\n\n"
             "Safe to call from any number of threads: every caller gets a distinct value\n"
             "and each caller's values strictly increase. Raises OverflowError, keeping the\n"
             "value, once the value has passed limit (never wrapping past 2**64 - 1).");

PyDoc_STRVAR(Counter_next_many_doc,
             "next_many($self, /, n, out=None)\n--\n\n"
             "Draw n values at once: exactly what n calls of next() would return, in order.\n\n"
             "Returns a memoryview of format 'Q' (uint64) that numpy.asarray() wraps without a\n"
             "copy. With out, writes them into that buffer instead and returns it: a writable,\n"
             "C-contiguous buffer of n uint64 items or 8 * n bytes (a numpy.uint64 array,\n"
             "array.array('Q'), bytearray, memoryview); TypeError or ValueError, drawing\n"
             "nothing, for any other. One atomic step reserves the whole block, so values drawn\n"
             "concurrently by other threads never fall inside it. n is an int in\n"
             "[0, 2**60 - 1]; raises OverflowError, drawing nothing, if the last value would\n"
             "pass limit + interval, and MemoryError naming n when no buffer that large can be\n"
             "had.");

PyDoc_STRVAR(Counter_current_doc,
             "current($self, /)\n--\n\n"
             "Return the last value handed out (the start value before the first next()).");

PyDoc_STRVAR(Counter_set_doc,
             "set($self, /, val)\n--\n\n"
             "Set the counter to val, an int in [0, limit]; the next value is val + interval.\n\n"
             "A store: setting a lower value lets the counter hand out values again, so use it\n"
             "only to restore a known position. To skip ahead without ever going back, use\n"
             "advance_to().");

PyDoc_STRVAR(Counter_advance_to_doc,
             "advance_to($self, /, value)\n--\n\n"
             "Raise the counter to value (an int in [0, limit]) unless it is already there or\n"
             "beyond: an atomic maximum, so the next value is above value and the counter never\n"
             "moves backwards, whatever other threads draw meanwhile.");

PyObject* Counter_repr(PyObject* self) {
    ac::counter const& c = as_counter(self)->value;
    return PyUnicode_FromFormat("atomic_counter.Counter(current=%llu, base=%llu, interval=%llu)",
                                static_cast<unsigned long long>(c.current()),
                                static_cast<unsigned long long>(c.base()),
                                static_cast<unsigned long long>(c.interval()));
}

PyMethodDef Counter_methods[] = {
    ATOMIC_COUNTER_DRAW_METHODS(counter_kind, Counter),
    store_method<counter_kind, set_op>(Counter_set_doc),
    store_method<counter_kind, advance_to_op>(Counter_advance_to_doc),
    {nullptr, nullptr, 0, nullptr},
};

PyGetSetDef Counter_getset[] = {
    {"base", property_u64<counter_kind, &ac::counter::base>, nullptr,
     "The base, in ns since the Unix epoch.", nullptr},
    {"interval", property_u64<counter_kind, &ac::counter::interval>, nullptr,
     "The step added by every next().", nullptr},
    {"limit", property_u64<counter_kind, &ac::counter::limit>, nullptr,
     "The largest value a draw may start from: 2**64 - 1 - 2**32 * interval (headroom that lets\n"
     "a draw be one atomic add), or 2**64 - 1 - interval for intervals above 2**31. Past it,\n"
     "next() raises OverflowError.",
     nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

PyDoc_STRVAR(
    Counter_doc,
    "Counter(base=None, now=None, interval=None)\n--\n\n"
    "A lock-free counter that starts at now - base and adds interval on every next().\n\n"
    "base and now are nanoseconds since the Unix epoch; base defaults to _BASE\n"
    "(2020-01-01T05:00:00Z, the original atomic-counter's), now to the current UTC time, and\n"
    "interval to 1. Each is an int in [0, 2**64 - 1]; now must be >= base and interval >= 1.\n"
    "A counter created later starts higher, so ids continue above a previous run's as long as\n"
    "that run drew no faster than one interval per nanosecond. Iterating a Counter draws\n"
    "values with next().");

type_spec Counter_spec("atomic_counter.Counter", sizeof(CounterObject),
                       {Counter_doc, Counter_new, Counter_dealloc, Counter_repr,
                        method_iternext<counter_kind>, Counter_methods, Counter_getset});

// ---------------------------------------------------------------------------------------------
// TimeCounter

struct TimeCounterObject {
    PyObject_HEAD ac::time_counter value;
};

TimeCounterObject* as_time_counter(PyObject* self) {
    return reinterpret_cast<TimeCounterObject*>(self);
}

struct time_counter_kind : in_process_kind {
    static constexpr char const* name = "TimeCounter";
    using core = ac::time_counter;

    class hold : public core_ref<core> {
    public:
        hold(PyObject* self, core_use Py_UNUSED(how), char const* Py_UNUSED(method)) noexcept
            : core_ref(&as_time_counter(self)->value) {}
    };
};

void TimeCounter_dealloc(PyObject* self) {
    as_time_counter(self)->value.~basic_time_counter();
    free_object_memory(self);
}

PyObject* TimeCounter_new(PyTypeObject* type, PyObject* args, PyObject* kwargs) {
    static char const* const names[] = {nullptr};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, ":TimeCounter", const_cast<char**>(names))) {
        return nullptr;
    }
    owned self(PyType_GenericAlloc(type, 0));
    if (!self) {
        return nullptr;
    }
    try {
        new (&as_time_counter(self.get())->value) ac::time_counter();  // reads the clock
    } catch (...) {
        // A clock past 2112: the C++ object was never constructed; free without destroying it.
        free_object_memory(self.release());
        return set_python_error(where(time_counter_kind::name, ""));
    }
    return self.release();
}

PyDoc_STRVAR(TimeCounter_next_doc,
             "next($self, /)\n--\n\n"
             "Return the next id: (microseconds since the Unix epoch << 12) | sequence.\n\n"
             "The sequence is 0 in a microsecond later than the last id's; otherwise the id is\n"
             "the last one + 1, so ids strictly increase even when the clock steps back or more\n"
             "than 4096 ids are drawn in one microsecond (they then borrow from the following\n"
             "microseconds: see lead_us()). Safe to call from any number of threads.");

PyDoc_STRVAR(TimeCounter_next_many_doc,
             "next_many($self, /, n, out=None)\n--\n\n"
             "Draw n consecutive ids at once: the first is what next() would return, the rest\n"
             "follow it by 1, borrowing from later microseconds (n / 4096 at most; see\n"
             "lead_us()).\n\n"
             "Returns a memoryview of format 'Q' (uint64) that numpy.asarray() wraps without a\n"
             "copy, or, with out, writes into that buffer and returns it (as\n"
             "Counter.next_many()). One atomic step reserves the whole block, so ids drawn\n"
             "concurrently by other threads never fall inside it. n is an int in\n"
             "[0, 2**60 - 1].");

PyDoc_STRVAR(TimeCounter_current_doc,
             "current($self, /)\n--\n\n"
             "Return the last id handed out; a new counter holds the current microsecond with\n"
             "sequence 2048.");

PyDoc_STRVAR(TimeCounter_advance_to_doc,
             "advance_to($self, /, value)\n--\n\n"
             "Raise the last id to value (an int in [0, 2**64 - 1]) unless it is already there\n"
             "or beyond, so that every later id is above it: for continuing above ids handed out\n"
             "elsewhere (a previous run's). Never moves backwards.");

PyDoc_STRVAR(TimeCounter_lead_us_doc,
             "lead_us($self, /)\n--\n\n"
             "Return how many microseconds the last id's timestamp runs ahead of the clock.\n\n"
             "0 in normal operation; positive after the wall clock stepped back or a burst of\n"
             "more than 4096 ids per microsecond borrowed from later microseconds. Ids stay\n"
             "unique and increasing either way; monitor this to see when they stop matching\n"
             "the time they were drawn.");

PyDoc_STRVAR(TimeCounter_decode_doc,
             "decode_timestamp_microseconds(value)\n--\n\n"
             "Return the microseconds since the Unix epoch encoded in a TimeCounter id\n"
             "(value >> 12). value is an int in [0, 2**64 - 1].");

PyObject* TimeCounter_decode(PyObject* Py_UNUSED(unused), PyObject* const* args, Py_ssize_t nargs,
                             PyObject* kwnames) {
    std::uint64_t value = 0;
    if (!one_u64_argument(where("TimeCounter", "decode_timestamp_microseconds"), "value", args,
                          nargs, kwnames, &value)) {
        return nullptr;
    }
    return PyLong_FromUnsignedLongLong(ac::time_counter::decode_timestamp_microseconds(value));
}

PyObject* TimeCounter_repr(PyObject* self) {
    ac::time_counter const& c = as_time_counter(self)->value;
    return PyUnicode_FromFormat("atomic_counter.TimeCounter(current=%llu, lead_us=%llu)",
                                static_cast<unsigned long long>(c.current()),
                                static_cast<unsigned long long>(c.lead_us()));
}

PyMethodDef TimeCounter_methods[] = {
    ATOMIC_COUNTER_DRAW_METHODS(time_counter_kind, TimeCounter),
    {"lead_us", method_u64<time_counter_kind, &ac::time_counter::lead_us>, METH_NOARGS,
     TimeCounter_lead_us_doc},
    store_method<time_counter_kind, advance_to_op>(TimeCounter_advance_to_doc),
    {"decode_timestamp_microseconds", as_cfunction(TimeCounter_decode),
     METH_FASTCALL | METH_KEYWORDS | METH_STATIC, TimeCounter_decode_doc},
    {nullptr, nullptr, 0, nullptr},
};

PyDoc_STRVAR(
    TimeCounter_doc,
    "TimeCounter()\n--\n\n"
    "Lock-free ids that are their own timestamps: (microseconds since the Unix epoch, low 52\n"
    "bits) << 12 | a 12-bit sequence, the original atomic-counter's layout.\n\n"
    "Ids strictly increase for every caller, across threads, when the wall clock steps back,\n"
    "and past 4096 ids in one microsecond (borrowing from the next microsecond instead of\n"
    "failing; lead_us() reports how far ahead of the clock that put the counter). Decode with\n"
    "to_datetime(), decode_timestamp_microseconds() and get_timedelta(). Iterating a\n"
    "TimeCounter draws ids with next().");

type_spec TimeCounter_spec("atomic_counter.TimeCounter", sizeof(TimeCounterObject),
                           {TimeCounter_doc, TimeCounter_new, TimeCounter_dealloc, TimeCounter_repr,
                            method_iternext<time_counter_kind>, TimeCounter_methods});

// ---------------------------------------------------------------------------------------------
// Module functions, also installed as TimeCounter's static methods (the original's API).

struct civil_date {
    long long year;
    unsigned month;
    unsigned day;
};

// Days since 1970-01-01 to a proleptic Gregorian date (days >= 0 here), by Howard Hinnant's
// public-domain algorithm: eras of 400 years, years starting in March.
civil_date civil_from_days(long long days) {
    days += 719468;
    const long long era = days / 146097;
    const long long doe = days - era * 146097;                                    // [0, 146096]
    const long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // [0, 399]
    const long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);                // [0, 365]
    const long long mp = (5 * doy + 2) / 153;                                     // [0, 11]
    const auto day = static_cast<unsigned>(doy - (153 * mp + 2) / 5 + 1);
    const auto month = static_cast<unsigned>(mp < 10 ? mp + 3 : mp - 9);
    return {yoe + era * 400 + (month <= 2 ? 1 : 0), month, day};
}

PyDoc_STRVAR(to_datetime_doc,
             "to_datetime(value)\n--\n\n"
             "Return the time encoded in a TimeCounter id as an aware UTC datetime, exact to\n"
             "the microsecond. value is an int in [0, 2**64 - 1].");

PyObject* to_datetime(PyObject* module, PyObject* const* args, Py_ssize_t nargs,
                      PyObject* kwnames) {
    std::uint64_t value = 0;
    if (!one_u64_argument(where("TimeCounter", "to_datetime"), "value", args, nargs, kwnames,
                          &value)) {
        return nullptr;
    }
    const std::uint64_t us = ac::time_counter::decode_timestamp_microseconds(value);
    const std::uint64_t seconds = us / 1000000;
    const civil_date date = civil_from_days(static_cast<long long>(seconds / 86400));
    const auto second_of_day = static_cast<int>(seconds % 86400);
    PyObject* api = datetime_api(module);
    if (api == nullptr) {
        return nullptr;
    }
    owned call_args(Py_BuildValue("(LIIiiiiO)", date.year, date.month, date.day,
                                  second_of_day / 3600, second_of_day / 60 % 60, second_of_day % 60,
                                  static_cast<int>(us % 1000000), PyTuple_GetItem(api, 2)));
    if (!call_args) {
        return nullptr;
    }
    return PyObject_Call(PyTuple_GetItem(api, 0), call_args.get(), nullptr);
}

PyDoc_STRVAR(get_timedelta_doc,
             "get_timedelta(later, earlier)\n--\n\n"
             "Return the time from earlier's timestamp to later's as a timedelta (negative when\n"
             "earlier is the later id). Both are TimeCounter ids, ints in [0, 2**64 - 1].");

PyObject* get_timedelta(PyObject* module, PyObject* const* args, Py_ssize_t nargs,
                        PyObject* kwnames) {
    static char const* const names[] = {"later", "earlier"};
    const where func("TimeCounter", "get_timedelta");
    PyObject* objs[2] = {nullptr, nullptr};
    std::uint64_t later = 0;
    std::uint64_t earlier = 0;
    if (!bind_arguments(func, args, nargs, kwnames, names, 2, 2, objs) ||
        !to_u64(objs[0], func, "later", &later) || !to_u64(objs[1], func, "earlier", &earlier)) {
        return nullptr;
    }
    // Both timestamps are below 2**52, so the difference fits a signed 64-bit int.
    const long long us =
        static_cast<long long>(ac::time_counter::decode_timestamp_microseconds(later)) -
        static_cast<long long>(ac::time_counter::decode_timestamp_microseconds(earlier));
    PyObject* api = datetime_api(module);
    owned call_args(api != nullptr ? Py_BuildValue("(iiL)", 0, 0, us) : nullptr);
    if (!call_args) {
        return nullptr;
    }
    return PyObject_Call(PyTuple_GetItem(api, 1), call_args.get(), nullptr);
}

// form (a str: base32, base62, hex or decimal; None is base32) to an id_format.
bool to_form(PyObject* obj, char const* func, ac::id_format* out) {
    if (obj == nullptr || obj == Py_None) {
        *out = ac::id_format::base32;
        return true;
    }
    static constexpr ac::id_format forms[] = {ac::id_format::base32, ac::id_format::base62,
                                              ac::id_format::hex, ac::id_format::decimal};
    if (PyUnicode_Check(obj)) {
        for (ac::id_format form : forms) {
            if (PyUnicode_CompareWithASCIIString(obj, ac::detail::format_name(form)) == 0) {
                *out = form;
                return true;
            }
        }
    }
    PyErr_Format(PyExc_ValueError,
                 "%s argument 'form' must be 'base32', 'base62', 'hex' or 'decimal', not %R", func,
                 obj);
    return false;
}

PyDoc_STRVAR(format_id_doc,
             "format_id(value, form='base32')\n--\n\n"
             "Return the id as a string: 'base32' (13 characters of Crockford's alphabet),\n"
             "'base62' (11 characters) or 'hex' (16 lowercase digits), fixed-width forms that\n"
             "sort as text like the numbers they hold, or 'decimal' (the plain number, as in\n"
             "Twitter's id_str; it sorts as text only among ids of one length). value is an\n"
             "int in [0, 2**64 - 1]; parse_id() reads it back.");

PyObject* format_id(PyObject* Py_UNUSED(module), PyObject* const* args, Py_ssize_t nargs,
                    PyObject* kwnames) {
    static char const* const names[] = {"value", "form"};
    char const* func = "format_id()";
    PyObject* objs[2] = {nullptr, nullptr};
    std::uint64_t value = 0;
    ac::id_format form = ac::id_format::base32;
    if (!bind_arguments(func, args, nargs, kwnames, names, 2, 1, objs) ||
        !to_u64(objs[0], func, "value", &value) || !to_form(objs[1], func, &form)) {
        return nullptr;
    }
    const std::string text = ac::format_id(value, form);
    return PyUnicode_FromStringAndSize(text.data(), static_cast<Py_ssize_t>(text.size()));
}

PyDoc_STRVAR(parse_id_doc,
             "parse_id(text, form='base32')\n--\n\n"
             "Return the id a string of format_id() holds. base32 also reads lowercase and\n"
             "Crockford's aliases (I and L as 1, O as 0); hex reads uppercase. A wrong length, a\n"
             "character outside the form, or a value above 2**64 - 1 raises ValueError.");

PyObject* parse_id(PyObject* Py_UNUSED(module), PyObject* const* args, Py_ssize_t nargs,
                   PyObject* kwnames) {
    static char const* const names[] = {"text", "form"};
    char const* func = "parse_id()";
    PyObject* objs[2] = {nullptr, nullptr};
    ac::id_format form = ac::id_format::base32;
    if (!bind_arguments(func, args, nargs, kwnames, names, 2, 1, objs) ||
        !to_form(objs[1], func, &form)) {
        return nullptr;
    }
    if (!PyUnicode_Check(objs[0])) {
        owned type_name(type_name_of(objs[0]));
        if (type_name) {
            PyErr_Format(PyExc_TypeError, "%s argument 'text' must be a str, not %U", func,
                         type_name.get());
        }
        return nullptr;
    }
    Py_ssize_t size = 0;
    char const* utf8 = PyUnicode_AsUTF8AndSize(objs[0], &size);
    if (utf8 == nullptr) {
        return nullptr;
    }
    try {
        return PyLong_FromUnsignedLongLong(
            ac::parse_id(std::string_view(utf8, static_cast<std::size_t>(size)), form));
    } catch (...) {
        return set_python_error(func);
    }
}

PyMethodDef module_methods[] = {
    {"format_id", as_cfunction(format_id), METH_FASTCALL | METH_KEYWORDS, format_id_doc},
    {"parse_id", as_cfunction(parse_id), METH_FASTCALL | METH_KEYWORDS, parse_id_doc},
    {"to_datetime", as_cfunction(to_datetime), METH_FASTCALL | METH_KEYWORDS, to_datetime_doc},
    {"get_timedelta", as_cfunction(get_timedelta), METH_FASTCALL | METH_KEYWORDS,
     get_timedelta_doc},
    // For atomic_counter.layout's Layout.decode_many (see layout.cpp).
    {"_decode_many", as_cfunction(decode_many), METH_FASTCALL, nullptr},
    {nullptr, nullptr, 0, nullptr},
};

// ---------------------------------------------------------------------------------------------
// Module

// Installs the decoding functions as static methods of `type`, as the original atomic-counter
// does for TimeCounter: the module's to_datetime and get_timedelta, and TimeCounter's
// decode_timestamp_microseconds (for the types that share its ids).
int add_static_methods(PyObject* module, PyObject* type, PyObject* time_counter_type) {
    owned builtins(PyImport_ImportModule("builtins"));
    owned staticmethod(builtins ? PyObject_GetAttrString(builtins.get(), "staticmethod") : nullptr);
    if (!staticmethod) {
        return -1;
    }
    const auto install = [&](PyObject* owner, char const* name) {
        owned function(PyObject_GetAttrString(owner, name));
        owned wrapped(
            function ? PyObject_CallFunctionObjArgs(staticmethod.get(), function.get(), nullptr)
                     : nullptr);
        return wrapped ? PyObject_SetAttrString(type, name, wrapped.get()) : -1;
    };
    if (install(module, "to_datetime") < 0 || install(module, "get_timedelta") < 0) {
        return -1;
    }
    if (type != time_counter_type &&
        install(time_counter_type, "decode_timestamp_microseconds") < 0) {
        return -1;
    }
    return 0;
}

int module_exec(PyObject* module) {
    install_fork_handler();
    module_state* st = state_of(module);
    new (&st->datetime_api) std::atomic<PyObject*>(nullptr);
    st->names = {PyUnicode_InternFromString("cast"), PyUnicode_InternFromString("Q"),
                 PyUnicode_InternFromString("q"), PyUnicode_InternFromString("format")};
    if (st->names.cast == nullptr || st->names.uint64 == nullptr || st->names.int64 == nullptr ||
        st->names.format == nullptr) {
        return -1;
    }
    PyType_Spec* const specs[type_count] = {Counter_spec.get(),       TimeCounter_spec.get(),
                                            shared_counter_spec(),    shared_time_counter_spec(),
                                            snowflake_counter_spec(), segment_counter_spec()};
    for (int i = 0; i < type_count; ++i) {
        st->types[i] = PyType_FromModuleAndSpec(module, specs[i], nullptr);
        // The spec's name is "atomic_counter.<Name>": the module gets <Name>.
        if (st->types[i] == nullptr ||
            PyModule_AddObjectRef(module, std::strchr(specs[i]->name, '.') + 1, st->types[i]) < 0) {
            return -1;
        }
    }
    owned lease_error(PyErr_NewExceptionWithDoc(
        "atomic_counter.LeaseExpiredError",
        "A SnowflakeCounter governed by a node lease refused to hand out an id: the lease could\n"
        "not be confirmed before it could have expired (another process may hold the node now),\n"
        "or its ids reached the high-water mark recorded for the node's next holder.",
        PyExc_RuntimeError, nullptr));
    if (!lease_error || PyModule_AddObjectRef(module, "LeaseExpiredError", lease_error.get()) < 0 ||
        add_static_methods(module, st->types[time_counter_type], st->types[time_counter_type]) <
            0 ||
        add_static_methods(module, st->types[shared_time_counter_type],
                           st->types[time_counter_type]) < 0) {
        return -1;
    }
    owned base(PyLong_FromUnsignedLongLong(ac::default_base_ns));
    if (!base || PyModule_AddObjectRef(module, "_BASE", base.get()) < 0 ||
        PyModule_AddStringConstant(module, "__version__", ATOMIC_COUNTER_VERSION) < 0) {
        return -1;
    }
    return 0;
}

int module_traverse(PyObject* module, visitproc visit, void* arg) {
    module_state* st = state_of(module);
    for (PyObject* type : st->types) {
        Py_VISIT(type);
    }
    Py_VISIT(st->datetime_api.load(std::memory_order_acquire));
    Py_VISIT(st->names.cast);
    Py_VISIT(st->names.uint64);
    Py_VISIT(st->names.int64);
    Py_VISIT(st->names.format);
    return 0;
}

int module_clear(PyObject* module) {
    module_state* st = state_of(module);
    for (PyObject*& type : st->types) {
        Py_CLEAR(type);
    }
    Py_XDECREF(st->datetime_api.exchange(nullptr, std::memory_order_acq_rel));
    Py_CLEAR(st->names.cast);
    Py_CLEAR(st->names.uint64);
    Py_CLEAR(st->names.int64);
    Py_CLEAR(st->names.format);
    return 0;
}

void module_free(void* module) {
    module_clear(static_cast<PyObject*>(module));
}

PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, reinterpret_cast<void*>(module_exec)},
#if defined(Py_GIL_DISABLED) && defined(Py_mod_gil)
    // Every object is safe without the GIL: draws are atomic (draw_one), shared objects pin
    // their core with an atomic word, and everything else is written once, before it is shared.
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
    {0, nullptr},
};

PyDoc_STRVAR(module_doc,
             "The native core of atomic_counter: lock-free Counter and TimeCounter. Import them\n"
             "from the atomic_counter package.");

PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "atomic_counter._core", module_doc,
    sizeof(module_state),  module_methods,         module_slots,
    module_traverse,       module_clear,           module_free,
};

}  // namespace

namespace atomic_counter::python {

bulk_names const& bulk_names_of(PyObject* module) {
    return state_of(module)->names;
}

}  // namespace atomic_counter::python

// The name CPython looks for (reserved by C++, but fixed by the import system).
PyMODINIT_FUNC
PyInit__core(void) {  // NOLINT(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp)
    return PyModuleDef_Init(&module_def);
}
