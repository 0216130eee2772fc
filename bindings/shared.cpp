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
#include "methods.hpp"

#include <atomic_counter/shared_counter.hpp>
#include <atomic_counter/shared_time_counter.hpp>

#include <atomic>
#include <cstdint>
#include <exception>
#include <new>
#include <optional>
#include <string>
#include <utility>

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

// The name argument: a str or an os.PathLike giving one.
bool to_name(PyObject* obj, where const& call, owned* out, std::string* text) {
    owned path(PyOS_FSPath(obj));
    if (!path) {
        return false;
    }
    if (!PyUnicode_Check(path.get())) {
        PyErr_Format(PyExc_TypeError, "%s argument 'name' must be a str or an os.PathLike of str",
                     call.text().c_str());
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

bool to_optional_bool(PyObject* obj, where const& call, char const* arg, bool* out) {
    if (obj == nullptr || obj == Py_None) {
        return true;
    }
    if (!PyBool_Check(obj)) {
        owned type_name(type_name_of(obj));
        if (type_name) {
            PyErr_Format(PyExc_TypeError, "%s argument '%s' must be a bool, not %U",
                         call.text().c_str(), arg, type_name.get());
        }
        return false;
    }
    *out = obj == Py_True;
    return true;
}

// durable (None or bool) and block (None or an int >= 1) to the core's durability.
bool to_durability(PyObject* durable, PyObject* block, where const& call,
                   std::uint64_t default_block, ac::durability* out) {
    if (durable != nullptr && durable != Py_None && !PyBool_Check(durable)) {
        owned type_name(type_name_of(durable));
        if (type_name) {
            PyErr_Format(PyExc_TypeError, "%s argument 'durable' must be a bool or None, not %U",
                         call.text().c_str(), type_name.get());
        }
        return false;
    }
    std::optional<std::uint64_t> block_value;
    if (!to_optional_u64(block, call, "block", &block_value)) {
        return false;
    }
    if (block_value && *block_value == 0) {
        PyErr_Format(PyExc_ValueError, "%s argument 'block' must be in [1, 2**64 - 1], got 0",
                     call.text().c_str());
        return false;
    }
    if (block_value && durable != Py_True) {
        PyErr_Format(PyExc_ValueError, "%s argument 'block' needs durable=True",
                     call.text().c_str());
        return false;
    }
    *out = durable == Py_True    ? ac::durability::every(block_value.value_or(default_block))
           : durable == Py_False ? ac::durability::off()
                                 : ac::durability::as_region();
    return true;
}

// mode (an int in [0, 0o777]) and allow_other_owner (a bool) to region_options.
bool to_region_options(PyObject* mode, PyObject* allow_other_owner, where const& call,
                       ac::region_options* out) {
    std::optional<std::uint64_t> mode_value;
    if (!to_optional_u64(mode, call, "mode", &mode_value)) {
        return false;
    }
    if (mode_value && *mode_value > 0777) {
        PyErr_Format(
            PyExc_ValueError,
            "%s argument 'mode' must be permission bits in [0, 0o777], "
            "got %s",
            call.text().c_str(),
            ac::detail::os::octal(static_cast<std::uint32_t>(*mode_value & 07777)).c_str());
        return false;
    }
    if (mode_value) {
        out->mode = static_cast<std::uint32_t>(*mode_value);
    }
    if (!to_optional_bool(allow_other_owner, call, "allow_other_owner", &out->allow_other_owner)) {
        return false;
    }
    out->run_blocking = run_without_gil;
    return true;
}

// ---------------------------------------------------------------------------------------------
// What both types share: the object, its hold (a pin), the methods beyond methods.hpp's.

template <class Core>
struct SharedObject {
    PyObject_HEAD Core* core;  // nullptr once closed and no longer pinned
    lifetime life;
    PyObject* name;              // str, as given
    ac::region_options options;  // as opened (pickles carry mode and allow_other_owner)
    PyObject* path;              // str: the absolute path taken at open (unlink() once closed)
    ac::region_id id;            // the region's (unlink() once closed)
};

template <class Core>
SharedObject<Core>* as_shared(PyObject* self) {
    return reinterpret_cast<SharedObject<Core>*>(self);
}

// The hold of a shared type: keeps an open object's core alive for the rest of a scope; false,
// with ValueError set, when the object is closed. Take it only after everything in the method
// that can run Python code.
template <class K>
class pin {
    using core = typename K::core;

public:
    pin(PyObject* self, core_use Py_UNUSED(how), char const* method) noexcept
        : obj_(as_shared<core>(self)) {
        if (ATOMIC_COUNTER_UNLIKELY(!obj_->life.pin())) {
            refuse_closed(obj_->name, method);
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
    explicit operator bool() const noexcept { return obj_ != nullptr; }
    core& operator*() const noexcept { return *obj_->core; }
    core* operator->() const noexcept { return obj_->core; }

private:
    // ValueError naming the call: "SharedCounter('orders').next(): the counter is closed". Out
    // of line, so the draws that inline the pin stay small.
    ATOMIC_COUNTER_NOINLINE static void refuse_closed(PyObject* name, char const* method) noexcept {
        owned subject(PyObject_Repr(name));
        char const* text = subject ? PyUnicode_AsUTF8AndSize(subject.get(), nullptr) : nullptr;
        if (text == nullptr) {
            return;  // the repr's exception stands
        }
        try {
            const where call(K::name, method == nullptr ? "" : method);
            PyErr_Format(PyExc_ValueError, "%s: the counter is closed", call.text(text).c_str());
        } catch (...) {
            PyErr_NoMemory();
        }
    }

    SharedObject<core>* obj_;
};

// What a pickle carries: the region's absolute path and id, and the open's parameters.
struct identity {
    std::string path;
    std::string id;
    std::uint64_t base = 0;
    std::uint64_t interval = 0;
    std::uint64_t durable_block = 0;
};

// What both kinds have in common; each adds its name, how to reopen a pickled region
// (K::attach) and its repr fields (K::describe).
template <class Core, class K>
struct shared_kind : standard_errors {
    using core = Core;
    using hold = pin<K>;
    static std::uint64_t draw(core& c) { return c.next(); }
    static char bulk_item(PyObject* Py_UNUSED(self)) noexcept { return 'Q'; }
};

template <class K>
void shared_dealloc(PyObject* self) {
    auto* obj = as_shared<typename K::core>(self);
    delete obj->core;  // no pin can be held: a method in flight holds a reference to self
    Py_XDECREF(obj->name);
    Py_XDECREF(obj->path);
    free_object_memory(self);
}

// Allocates the Python object around a core built by `make` (which may throw). The core is
// built without the GIL: opening may wait for another process that is creating the region.
template <class K, class Make>
PyObject* new_shared(PyTypeObject* type, owned& name, ac::region_options const& options,
                     Make&& make) {
    using core = typename K::core;
    owned self(PyType_GenericAlloc(type, 0));
    if (!self) {
        return nullptr;
    }
    SharedObject<core>* obj = as_shared<core>(self.get());
    obj->core = nullptr;
    new (&obj->life) lifetime();  // open: nothing reaches it before it is returned
    obj->name = name.release();
    new (&obj->options) ac::region_options(options);
    obj->path = nullptr;
    new (&obj->id) ac::region_id();
    core* made = nullptr;
    std::exception_ptr error;
    Py_BEGIN_ALLOW_THREADS gil_released = true;
    try {
        made = make();
    } catch (...) {
        error = std::current_exception();
    }
    gil_released = false;
    Py_END_ALLOW_THREADS if (error) {
        try {
            std::rethrow_exception(error);
        } catch (...) {
            return set_python_error(where(K::name, ""));  // `self` is freed with a null core
        }
    }
    obj->path = PyUnicode_FromStringAndSize(made->path().data(),
                                            static_cast<Py_ssize_t>(made->path().size()));
    obj->id = made->id();
    obj->core = made;
    if (obj->path == nullptr) {
        return nullptr;  // `self` is freed, and the core with it
    }
    return self.release();
}

template <class K>
PyObject* shared_close(PyObject* self, PyObject* Py_UNUSED(ignored)) {
    auto* obj = as_shared<typename K::core>(self);
    if (obj->life.close()) {
        delete obj->core;
        obj->core = nullptr;
    }  // else the last pin deletes it (or it was closed already)
    Py_RETURN_NONE;
}

template <class K>
PyObject* shared_exit(PyObject* self, PyObject* const* Py_UNUSED(args),
                      Py_ssize_t Py_UNUSED(nargs)) {
    return shared_close<K>(self, nullptr);
}

PyObject* shared_enter(PyObject* self, PyObject* Py_UNUSED(ignored)) {
    return Py_NewRef(self);
}

// Ends this object's own region (whatever its name names now, and wherever the working directory
// is now) and removes the name if it still names that region. The wait for the region's lock
// runs without the GIL (the core's blocking runner).
template <class K>
PyObject* shared_unlink(PyObject* self, PyObject* Py_UNUSED(ignored)) {
    const where call(K::name, "unlink");
    auto* obj = as_shared<typename K::core>(self);
    if (obj->life.closed()) {
        // No page of its own any more: the region its path names now, if that is still this
        // region (its id); another region under the name is left alone (FileNotFoundError).
        Py_ssize_t size = 0;
        char const* utf8 = PyUnicode_AsUTF8AndSize(obj->path, &size);
        if (utf8 == nullptr) {
            return nullptr;
        }
        struct request {
            std::string path;
            ac::region_id id;
        } r{std::string(utf8, static_cast<std::size_t>(size)), obj->id};
        try {
            run_without_gil(
                [](void* context) {
                    auto const* q = static_cast<request const*>(context);
                    ac::detail::shared_region::unlink(q->path, K::core::api_name, q->id);
                },
                &r);
        } catch (...) {
            return K::fail(self, call);
        }
        Py_RETURN_NONE;
    }
    {
        typename K::hold core(self, core_use::draw, "unlink");
        if (!core) {
            return nullptr;
        }
        try {
            core->unlink();
        } catch (...) {
            return K::fail(self, call);
        }
    }
    Py_RETURN_NONE;
}

template <class K>
PyObject* shared_reduce(PyObject* self, PyObject* Py_UNUSED(ignored)) {
    identity who;
    {
        typename K::hold core(self, core_use::read, "__reduce__");
        if (!core) {
            return nullptr;
        }
        who = K::identity_of(*core);
    }
    auto const* obj = as_shared<typename K::core>(self);
    owned attach(PyObject_GetAttrString(reinterpret_cast<PyObject*>(Py_TYPE(self)), "_attach"));
    if (!attach) {
        return nullptr;
    }
    return Py_BuildValue("(O(ssKKKIO))", attach.get(), who.path.c_str(), who.id.c_str(),
                         static_cast<unsigned long long>(who.base),
                         static_cast<unsigned long long>(who.interval),
                         static_cast<unsigned long long>(who.durable_block), obj->options.mode,
                         obj->options.allow_other_owner ? Py_True : Py_False);
}

// _attach(path, region_id, base, interval, durable_block, mode, allow_other_owner): the
// unpickler. Opens that region only, with the pickler's rules: never creates one.
template <class K>
PyObject* shared_attach(PyObject* cls, PyObject* const* args, Py_ssize_t nargs) {
    const where call(K::name, "_attach");
    if (nargs != 7) {
        PyErr_Format(PyExc_TypeError,
                     "%s takes (path, region_id, base, interval, durable_block, "
                     "mode, allow_other_owner)",
                     call.text().c_str());
        return nullptr;
    }
    owned name;
    std::string path;
    ac::region_options options;
    identity who;
    if (!to_region_options(args[5], args[6], call, &options) ||
        !to_name(args[0], call, &name, &path) || !to_u64(args[2], call, "base", &who.base) ||
        !to_u64(args[3], call, "interval", &who.interval) ||
        !to_u64(args[4], call, "durable_block", &who.durable_block)) {
        return nullptr;
    }
    char const* id = PyUnicode_Check(args[1]) ? PyUnicode_AsUTF8AndSize(args[1], nullptr) : nullptr;
    if (id == nullptr) {
        if (!PyErr_Occurred()) {
            PyErr_Format(PyExc_TypeError, "%s argument 'region_id' must be a str",
                         call.text().c_str());
        }
        return nullptr;
    }
    try {
        options.only_region = ac::region_id::from_string(id);
    } catch (...) {
        return set_python_error(call);
    }
    return new_shared<K>(reinterpret_cast<PyTypeObject*>(cls), name, options,
                         [&] { return K::attach(path, who, options); });
}

template <class K>
PyObject* shared_repr(PyObject* self) {
    auto* obj = as_shared<typename K::core>(self);
    std::string fields;
    {
        typename K::hold core(self, core_use::read, nullptr);
        if (!core) {
            PyErr_Clear();  // a closed counter's repr says so
            return PyUnicode_FromFormat("atomic_counter.%s(%R, closed)", K::name, obj->name);
        }
        fields = K::describe(*core);
    }
    return PyUnicode_FromFormat("atomic_counter.%s(%R, %s)", K::name, obj->name, fields.c_str());
}

// The properties every shared type has.
template <class K>
PyObject* shared_get_name(PyObject* self, void* Py_UNUSED(closure)) {
    return Py_NewRef(as_shared<typename K::core>(self)->name);
}

template <class K>
PyObject* shared_get_closed(PyObject* self, void* Py_UNUSED(closure)) {
    return PyBool_FromLong(as_shared<typename K::core>(self)->life.closed());
}

// Python objects for the values the properties read.
PyObject* to_python(std::string const& text) {
    return PyUnicode_FromStringAndSize(text.data(), static_cast<Py_ssize_t>(text.size()));
}
PyObject* to_python(bool flag) {
    return PyBool_FromLong(flag ? 1 : 0);
}
PyObject* to_python(std::optional<std::uint64_t> value) {
    return value ? PyLong_FromUnsignedLongLong(*value) : Py_NewRef(Py_None);
}

// A property read off the open core, made into a Python object after the pin is dropped.
template <class K, class Get>
PyObject* shared_property(PyObject* self, Get get) {
    decltype(get(std::declval<typename K::core const&>())) value{};
    {
        typename K::hold core(self, core_use::read, nullptr);
        if (!core) {
            return nullptr;
        }
        value = get(*core);
    }
    return to_python(value);
}

template <class K>
PyObject* shared_get_path(PyObject* self, void* Py_UNUSED(closure)) {
    return shared_property<K>(self, [](typename K::core const& c) { return c.path(); });
}

template <class K>
PyObject* shared_get_region_id(PyObject* self, void* Py_UNUSED(closure)) {
    return shared_property<K>(self, [](typename K::core const& c) { return c.id().to_string(); });
}

template <class K>
PyObject* shared_get_durable(PyObject* self, void* Py_UNUSED(closure)) {
    return shared_property<K>(self,
                              [](typename K::core const& c) { return c.durable_block() != 0; });
}

template <class K>
PyObject* shared_get_block(PyObject* self, void* Py_UNUSED(closure)) {
    return shared_property<K>(self, [](typename K::core const& c) {
        const std::uint64_t block = c.durable_block();
        return block == 0 ? std::nullopt : std::optional<std::uint64_t>(block);
    });
}

PyDoc_STRVAR(shared_close_doc,
             "close($self, /)\n--\n\n"
             "Release the mapping; the region and its value stay. Later calls raise ValueError.");

PyDoc_STRVAR(shared_unlink_doc,
             "unlink($self, /)\n--\n\n"
             "End this region's sequence for every process that has it open (their next draw,\n"
             "and this object's, raises FileNotFoundError), then remove its name (the path taken\n"
             "at open) if the name still names this region; the next open of the name creates a\n"
             "new region, from its own base and now. FileNotFoundError when the name no longer\n"
             "names it (another unlink removed it; a region that has the name now is left alone):\n"
             "the sequence is ended all the same. Once closed, the same for the region its path\n"
             "names, if that is still this region.");

// The methods after the type's own ones: closing, unlinking, the context manager and pickling.
#define ATOMIC_COUNTER_SHARED_METHODS(K)                                                           \
    {"close", shared_close<K>, METH_NOARGS, shared_close_doc},                                     \
        {"unlink", shared_unlink<K>, METH_NOARGS, shared_unlink_doc},                              \
        {"__enter__", shared_enter, METH_NOARGS, nullptr},                                         \
        {"__exit__", as_cfunction(shared_exit<K>), METH_FASTCALL, nullptr},                        \
        {"__reduce__", shared_reduce<K>, METH_NOARGS, nullptr},                                    \
        {"_attach", as_cfunction(shared_attach<K>), METH_FASTCALL | METH_CLASS, nullptr}, {        \
        nullptr, nullptr, 0, nullptr                                                               \
    }

// The properties both types have, first in their tables.
#define ATOMIC_COUNTER_SHARED_GETSET(K)                                                            \
    {"name", shared_get_name<K>, nullptr, "The region's name or path, as given.", nullptr},        \
        {"path", shared_get_path<K>, nullptr,                                                      \
         "The absolute path of a file region (as opened), or the shared-memory name.", nullptr},   \
        {"region_id", shared_get_region_id<K>, nullptr,                                            \
         "The region's identity: 32 hex digits drawn when it was created.", nullptr},              \
        {"closed", shared_get_closed<K>, nullptr, "Whether close() was called.", nullptr},         \
        {"durable", shared_get_durable<K>, nullptr,                                                \
         "Whether the region msyncs a high-water mark before handing out values past it.",         \
         nullptr},                                                                                 \
    {                                                                                              \
        "block", shared_get_block<K>, nullptr,                                                     \
            "Draws reserved per msync in a durable region (for SharedTimeCounter, microseconds "   \
            "of ids); None otherwise.",                                                            \
            nullptr                                                                                \
    }

// ---------------------------------------------------------------------------------------------
// SharedCounter

struct shared_counter_kind : shared_kind<ac::shared_counter, shared_counter_kind> {
    static constexpr char const* name = "SharedCounter";

    static identity identity_of(core const& c) {
        return {c.path(), c.id().to_string(), c.base(), c.interval(), c.durable_block()};
    }
    static core* attach(std::string const& path, identity const& who,
                        ac::region_options const& options) {
        return new core(path, who.base, std::nullopt, who.interval,
                        ac::durability(who.durable_block), options);
    }
    static std::string describe(core const& c) {
        return "current=" + std::to_string(c.current()) + ", base=" + std::to_string(c.base()) +
               ", interval=" + std::to_string(c.interval());
    }
};

PyObject* SharedCounter_new(PyTypeObject* type, PyObject* args, PyObject* kwargs) {
    static char const* const names[] = {"name",    "base",  "now",  "interval",
                                        "durable", "block", "mode", "allow_other_owner",
                                        nullptr};
    const where call(shared_counter_kind::name, "");
    PyObject *name_obj = nullptr, *base_obj = nullptr, *now_obj = nullptr, *interval_obj = nullptr,
             *durable_obj = nullptr, *block_obj = nullptr, *mode_obj = nullptr,
             *other_obj = nullptr;
    if (!PyArg_ParseTupleAndKeywords(
            args, kwargs, "O|OOO$OOOO:SharedCounter", const_cast<char**>(names), &name_obj,
            &base_obj, &now_obj, &interval_obj, &durable_obj, &block_obj, &mode_obj, &other_obj)) {
        return nullptr;
    }
    owned name;
    std::string path;
    std::optional<std::uint64_t> base, now, interval;
    ac::durability durable;
    ac::region_options options;
    if (!to_name(name_obj, call, &name, &path) || !to_optional_u64(base_obj, call, "base", &base) ||
        !to_optional_u64(now_obj, call, "now", &now) ||
        !to_optional_u64(interval_obj, call, "interval", &interval) ||
        !to_durability(durable_obj, block_obj, call, ac::shared_counter::default_block, &durable) ||
        !to_region_options(mode_obj, other_obj, call, &options)) {
        return nullptr;
    }
    return new_shared<shared_counter_kind>(type, name, options, [&] {
        return new ac::shared_counter(path, base, now, interval, durable, options);
    });
}

PyDoc_STRVAR(SharedCounter_next_doc,
             "next($self, /)\n--\n\n"
             "Add the interval and return the new value: unique across every process and thread\n"
             "drawing from this name, and strictly increasing for each of them. Raises\n"
             "OverflowError past limit, FileNotFoundError once the region was unlinked, and\n"
             "OSError if a durable region cannot be synced (the value is then skipped, never\n"
             "reissued, and every later draw raises until the region is opened again).");

PyDoc_STRVAR(SharedCounter_next_many_doc,
             "next_many($self, /, n, out=None)\n--\n\n"
             "Draw n values at once, as Counter.next_many() (out included): one atomic step on\n"
             "the shared value.");

PyDoc_STRVAR(SharedCounter_current_doc,
             "current($self, /)\n--\n\nReturn the last value any process drew.");

PyDoc_STRVAR(SharedCounter_set_doc,
             "set($self, /, val)\n--\n\n"
             "Set the shared value to val, an int in [0, limit], for every process: a store, so\n"
             "values above val drawn before the call can be drawn again (the caller's decision;\n"
             "to skip ahead without ever going back, use advance_to()). A durable region first\n"
             "syncs a mark covering val; values other processes draw meanwhile are never undone:\n"
             "the value then becomes the larger of theirs and val.");

PyDoc_STRVAR(SharedCounter_advance_to_doc,
             "advance_to($self, /, value)\n--\n\n"
             "Raise the shared value to value (an int in [0, limit]) unless it is already there\n"
             "or beyond: an atomic maximum, so the next draw returns more than value and the\n"
             "counter never moves backwards, whatever other processes draw meanwhile.");

PyMethodDef SharedCounter_methods[] = {
    ATOMIC_COUNTER_DRAW_METHODS(shared_counter_kind, SharedCounter),
    store_method<shared_counter_kind, set_op>(SharedCounter_set_doc),
    store_method<shared_counter_kind, advance_to_op>(SharedCounter_advance_to_doc),
    ATOMIC_COUNTER_SHARED_METHODS(shared_counter_kind),
};

PyGetSetDef SharedCounter_getset[] = {
    ATOMIC_COUNTER_SHARED_GETSET(shared_counter_kind),
    {"base", property_u64<shared_counter_kind, &ac::shared_counter::base>, nullptr,
     "The region's base, in ns since the epoch.", nullptr},
    {"interval", property_u64<shared_counter_kind, &ac::shared_counter::interval>, nullptr,
     "The region's interval.", nullptr},
    {"limit", property_u64<shared_counter_kind, &ac::shared_counter::limit>, nullptr,
     "As Counter.limit.", nullptr},
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
    "on purpose. A region that is not a SharedCounter's, or is empty, truncated or corrupt,\n"
    "raises ValueError and is left untouched; a file system too full to back its page raises\n"
    "OSError (ENOSPC). Pickles attach to this same region, never create one.\n"
    "A context manager that closes on exit.");

type_spec
    SharedCounter_spec("atomic_counter.SharedCounter", sizeof(SharedObject<ac::shared_counter>),
                       {SharedCounter_doc, SharedCounter_new, shared_dealloc<shared_counter_kind>,
                        shared_repr<shared_counter_kind>, method_iternext<shared_counter_kind>,
                        SharedCounter_methods, SharedCounter_getset});

// ---------------------------------------------------------------------------------------------
// SharedTimeCounter

struct shared_time_counter_kind : shared_kind<ac::shared_time_counter, shared_time_counter_kind> {
    static constexpr char const* name = "SharedTimeCounter";

    static identity identity_of(core const& c) {
        return {c.path(), c.id().to_string(), 0, 0, c.durable_block()};
    }
    static core* attach(std::string const& path, identity const& who,
                        ac::region_options const& options) {
        return new core(path, ac::durability(who.durable_block), ac::system_clock{}, options);
    }
    static std::string describe(core const& c) {
        return "current=" + std::to_string(c.current()) +
               ", lead_us=" + std::to_string(c.lead_us());
    }
};

PyObject* SharedTimeCounter_new(PyTypeObject* type, PyObject* args, PyObject* kwargs) {
    static char const* const names[] = {"name", "durable",           "block",
                                        "mode", "allow_other_owner", nullptr};
    const where call(shared_time_counter_kind::name, "");
    PyObject *name_obj = nullptr, *durable_obj = nullptr, *block_obj = nullptr, *mode_obj = nullptr,
             *other_obj = nullptr;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|$OOOO:SharedTimeCounter",
                                     const_cast<char**>(names), &name_obj, &durable_obj, &block_obj,
                                     &mode_obj, &other_obj)) {
        return nullptr;
    }
    owned name;
    std::string path;
    ac::durability durable;
    ac::region_options options;
    if (!to_name(name_obj, call, &name, &path) ||
        !to_durability(durable_obj, block_obj, call, ac::shared_time_counter::default_block,
                       &durable) ||
        !to_region_options(mode_obj, other_obj, call, &options)) {
        return nullptr;
    }
    return new_shared<shared_time_counter_kind>(type, name, options, [&] {
        return new ac::shared_time_counter(path, durable, ac::system_clock{}, options);
    });
}

PyDoc_STRVAR(SharedTimeCounter_next_doc,
             "next($self, /)\n--\n\n"
             "Return the next id, as TimeCounter.next(): unique across every process and thread\n"
             "drawing from this name, and strictly increasing for each of them. Raises\n"
             "FileNotFoundError once the region was unlinked, and OSError once a durable\n"
             "region's msync has failed (until it is opened again).");

PyDoc_STRVAR(SharedTimeCounter_next_many_doc,
             "next_many($self, /, n, out=None)\n--\n\n"
             "Draw n consecutive ids at once, as TimeCounter.next_many() (out included).");

PyDoc_STRVAR(SharedTimeCounter_current_doc,
             "current($self, /)\n--\n\nReturn the last id any process drew.");

PyDoc_STRVAR(SharedTimeCounter_advance_to_doc,
             "advance_to($self, /, value)\n--\n\n"
             "Raise the last id to value unless it is already there or beyond, for every\n"
             "process: the next id is above value, and the counter never moves backwards.");

PyDoc_STRVAR(SharedTimeCounter_lead_us_doc,
             "lead_us($self, /)\n--\n\n"
             "Return how many microseconds the last id runs ahead of this host's clock.");

PyMethodDef SharedTimeCounter_methods[] = {
    ATOMIC_COUNTER_DRAW_METHODS(shared_time_counter_kind, SharedTimeCounter),
    store_method<shared_time_counter_kind, advance_to_op>(SharedTimeCounter_advance_to_doc),
    {"lead_us", method_u64<shared_time_counter_kind, &ac::shared_time_counter::lead_us>,
     METH_NOARGS, SharedTimeCounter_lead_us_doc},
    ATOMIC_COUNTER_SHARED_METHODS(shared_time_counter_kind),
};

PyGetSetDef SharedTimeCounter_getset[] = {
    ATOMIC_COUNTER_SHARED_GETSET(shared_time_counter_kind),
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

type_spec SharedTimeCounter_spec(
    "atomic_counter.SharedTimeCounter", sizeof(SharedObject<ac::shared_time_counter>),
    {SharedTimeCounter_doc, SharedTimeCounter_new, shared_dealloc<shared_time_counter_kind>,
     shared_repr<shared_time_counter_kind>, method_iternext<shared_time_counter_kind>,
     SharedTimeCounter_methods, SharedTimeCounter_getset});

}  // namespace

namespace atomic_counter::python {

PyType_Spec* shared_counter_spec() {
    return SharedCounter_spec.get();
}
PyType_Spec* shared_time_counter_spec() {
    return SharedTimeCounter_spec.get();
}

}  // namespace atomic_counter::python
