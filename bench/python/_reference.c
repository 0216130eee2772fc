/* The floor for any Python-callable counter, built by the benchmark itself: a METH_NOARGS C
 * method that returns a fresh int (a plain increment, no atomics, no clock). (The floors of the
 * bulk calls are numpy's: bench/python/bulk.py.) Limited API 3.10, like atomic_counter._core. */
#define Py_LIMITED_API 0x030A0000
#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* A heap type like atomic_counter's, so `obj.next()` goes through the same method lookup. */
typedef struct {
    PyObject_HEAD unsigned long long value;
} ReferenceObject;

static PyObject* reference_new(PyTypeObject* type, PyObject* args, PyObject* kwargs) {
    (void)args;
    (void)kwargs;
    ReferenceObject* self = (ReferenceObject*)PyType_GenericAlloc(type, 0);
    if (self != NULL) {
        self->value = 217808073997074796ULL; /* a Counter-sized value */
    }
    return (PyObject*)self;
}

static void reference_dealloc(PyObject* self) {
    PyTypeObject* type = Py_TYPE(self);
    freefunc free_fn = (freefunc)PyType_GetSlot(type, Py_tp_free);
    free_fn(self);
    Py_DECREF(type);
}

static PyObject* reference_next(PyObject* self, PyObject* unused) {
    (void)unused;
    return PyLong_FromUnsignedLongLong(++((ReferenceObject*)self)->value);
}

static PyMethodDef reference_methods[] = {
    {"next", reference_next, METH_NOARGS, "Return a fresh int (++value)."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot reference_slots[] = {
    {Py_tp_new, (void*)reference_new},
    {Py_tp_dealloc, (void*)reference_dealloc},
    {Py_tp_methods, reference_methods},
    {0, NULL},
};

static PyType_Spec reference_spec = {"_reference.Reference", sizeof(ReferenceObject), 0,
                                     Py_TPFLAGS_DEFAULT, reference_slots};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_reference", NULL, 0, NULL, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__reference(void) {
    PyObject* m = PyModule_Create(&module);
    if (m == NULL) {
        return NULL;
    }
    PyObject* type = PyType_FromSpec(&reference_spec);
    if (type == NULL || PyModule_AddObject(m, "Reference", type) < 0) {
        Py_XDECREF(type);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
