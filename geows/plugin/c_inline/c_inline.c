/*
 * geows.plugin._c_inline: a C plugin's on_message called on the event loop without
 * ctypes, and the plugin's send() during that call handed straight to its connection.
 *
 * ctypes costs microseconds a crossing (arguments converted, the GIL released and taken
 * back, a callback's frame built): more than the whole Python echo spends on a message.
 * Here OnMessage, set as the plugin's on_message, is what the session calls, with the GIL
 * held; and send() - the one callback an echo makes - finds the connection's deliver()
 * (its handle's send) beside its server struct and calls it with the message's bytes. A
 * send() from any other context (a plugin's own thread, a call in a pool thread,
 * on_connect through ctypes) does not hold the GIL, and goes to the ctypes callback as
 * before. Only
 * libraries that import nothing that can wait are called here (geows.plugin.c_calls):
 * holding the GIL in them holds no one for long.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef size_t (*send_function)(const void *server, int type, const unsigned char *buffer,
                                size_t size);
typedef size_t (*on_message_function)(void *private_data, const void *server, int type,
                                      unsigned char *buffer, size_t size);

static send_function fallback;      /* the ctypes send callback */
static Py_ssize_t deliver_offset;   /* a connection's deliver(), after its server struct */
static PyObject *closed_error;      /* geows.errors.ConnectionClosed: send() gives 0 */
static PyObject *send_failed;       /* send_failed(server, exception): logs it */

/* The message types of websocket_plugin.h (geows.messages) */
static int known_type(int type)
{
    return type == 0 || type == 128 || type == 255 || type == 256 || type == 257;
}

/* This thread's CPU time (a system call: 0.35 us here) and the monotonic clock (the
 * vDSO's: 0.03 us) */
static double cpu_now(void)
{
    struct timespec at;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &at);
    return (double)at.tv_sec + (double)at.tv_nsec / 1e9;
}

static double wall_now(void)
{
    struct timespec at;

    clock_gettime(CLOCK_MONOTONIC, &at);
    return (double)at.tv_sec + (double)at.tv_nsec / 1e9;
}

/* send() raised: a closed connection is no fault of the plugin's (0, as the ctypes send
   gives); anything else is logged for the connection by send_failed(). C takes no exception. */
static void failed(const void *server)
{
    PyObject *type, *value, *traceback, *logged;

    if (PyErr_ExceptionMatches(closed_error)) {
        PyErr_Clear();
        return;
    }
    PyErr_Fetch(&type, &value, &traceback);
    PyErr_NormalizeException(&type, &value, &traceback);
    if (traceback != NULL)
        PyException_SetTraceback(value, traceback);
    logged = PyObject_CallFunction(send_failed, "NO", PyLong_FromVoidPtr((void *)server), value);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(traceback);
    if (logged == NULL)
        PyErr_WriteUnraisable(send_failed);
    Py_XDECREF(logged);
}

/* Wall seconds this thread's inline calls spent in geows, not the plugin's: their sends
 * (inline_send) and their other callbacks (request, broadcast, join...: spent(), which
 * geows.plugin.c_loader's ctypes callbacks call) */
static _Thread_local double in_geows;

/* deliver(type, data), its failures handled (failed()); steals data */
static size_t deliver_here(PyObject *deliver, const void *server, int type, PyObject *data)
{
    PyObject *args[2], *result;
    size_t sent;

    args[1] = data;
    args[0] = PyLong_FromLong(type);
    if (args[0] == NULL) {
        Py_DECREF(args[1]);
        PyErr_WriteUnraisable(deliver);
        return 0;
    }
    result = PyObject_Vectorcall(deliver, args, 2, NULL);
    Py_DECREF(args[0]);
    Py_DECREF(args[1]);
    if (result == NULL) {
        failed(server);
        return 0;
    }
    sent = PyLong_AsSize_t(result);
    Py_DECREF(result);
    if (sent == (size_t)-1 && PyErr_Occurred()) {
        PyErr_WriteUnraisable(deliver);
        return 0;
    }
    return sent;
}

/* The send() of every server struct. A send handed to the ctypes callback is counted in
 * in_geows there (spent()), not here. */
static size_t inline_send(const void *server, int type, const unsigned char *buffer,
                          size_t size)
{
    PyObject *deliver, *data;
    double entered;
    size_t sent;

    if (server == NULL || !PyGILState_Check())
        return fallback(server, type, buffer, size);
    deliver = *(PyObject *const *)((const char *)server + deliver_offset);
    if (deliver == NULL || deliver == Py_None || (buffer == NULL && size) || !known_type(type))
        return fallback(server, type, buffer, size);  /* it says what is wrong */
    /* TEXT as the str a Python plugin sends: UTF-8 checked once, here */
    data = type == 0 ? PyUnicode_DecodeUTF8((const char *)buffer, (Py_ssize_t)size, "strict")
                     : PyBytes_FromStringAndSize((const char *)buffer, (Py_ssize_t)size);
    if (data == NULL) {
        PyErr_Clear();
        return fallback(server, type, buffer, size);
    }
    entered = wall_now();
    sent = deliver_here(deliver, server, type, data);
    in_geows += wall_now() - entered;
    return sent;
}

/* A call held the loop when it computed for over `hold` seconds of this thread's CPU: a
 * call preempted on a busy machine held nothing, nor does the time its sends and other
 * callbacks spent in geows (in_geows), where Python may collect garbage: a full collection
 * of a worker holding thousands of connections takes a tenth of a second, which made a C
 * echo look like a plugin that computes (bench/RESULTS.md). The plugin's own CPU time is
 * at most the thread's over the call, and at most the call's wall time less in_geows: the
 * smaller is its hold (the CPU time less in_geows, a wall time, said nothing held of a
 * call that computed, then waited in a send for its client). Reading the CPU clock twice
 * a message would cost more than the rest of the call, so each call reads the wall clock,
 * and the CPU clock is read at most once every CPU_EVERY seconds before a call, and after
 * one only when the wall clock says it may have held: the CPU spent since that reading is
 * the call's, plus at most CPU_EVERY. */
#define CPU_EVERY 0.001
static _Thread_local double cpu_read_at = -1.0, cpu_read;

static double hold;                 /* limits.C_INLINE_HOLD */
static PyObject *held;              /* held(on_message, cpu_seconds): the Python side's */
static PyObject *private_name, *address_name;

/* A plugin's on_message called here: OnMessage(function)(connection, server, type, data),
 * as the session calls a plugin's on_message, with a NUL-terminated copy of data (bytes,
 * or a str as UTF-8) C may write to, as mod_websocket gave it. */
typedef struct {
    PyObject_HEAD
    on_message_function function;
    vectorcallfunc vectorcall;
} OnMessage;

/* The address an attribute of the connection holds (None: NULL); -1 on error */
static int address_of(PyObject *connection, PyObject *name, void **address)
{
    PyObject *value = PyObject_GetAttr(connection, name);

    if (value == NULL)
        return -1;
    *address = value == Py_None ? NULL : PyLong_AsVoidPtr(value);
    Py_DECREF(value);
    return *address == NULL && PyErr_Occurred() ? -1 : 0;
}

static PyObject *on_message_call(PyObject *callable, PyObject *const *args, size_t nargsf,
                                 PyObject *kwnames)
{
    OnMessage *self = (OnMessage *)callable;
    unsigned char small[1024], *copy = small;
    const char *data;
    Py_ssize_t size;
    void *private_data, *server;
    double start, spent, sending, cpu;
    long type;

    if (PyVectorcall_NARGS(nargsf) != 4 || kwnames != NULL) {
        PyErr_SetString(PyExc_TypeError, "on_message(connection, server, type, data)");
        return NULL;
    }
    type = PyLong_AsLong(args[2]);
    if ((type == -1 && PyErr_Occurred()) || address_of(args[0], private_name, &private_data)
        || address_of(args[0], address_name, &server))
        return NULL;
    if (PyUnicode_Check(args[3]))
        data = PyUnicode_AsUTF8AndSize(args[3], &size);
    else if (PyBytes_AsStringAndSize(args[3], (char **)&data, &size) < 0)
        data = NULL;
    if (data == NULL)
        return NULL;
    if ((size_t)size >= sizeof(small) && (copy = malloc((size_t)size + 1)) == NULL)
        return PyErr_NoMemory();
    memcpy(copy, data, (size_t)size);
    copy[size] = '\0';
    sending = in_geows;
    start = wall_now();
    if (start - cpu_read_at > CPU_EVERY) {
        cpu_read = cpu_now();
        cpu_read_at = start;
    }
    self->function(private_data, server, (int)type, copy, (size_t)size);
    sending = in_geows - sending;
    spent = wall_now() - start - sending;
    if (copy != small)
        free(copy);
    if (PyErr_Occurred())
        return NULL;
    if (spent > hold && (cpu = cpu_now() - cpu_read) > hold) {
        cpu_read_at = -1.0;
        return PyObject_CallFunction(held, "Od", callable, cpu < spent ? cpu : spent);
    }
    Py_RETURN_NONE;
}

static PyObject *on_message_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    unsigned long long function;
    OnMessage *self;

    if (held == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "setup() first");
        return NULL;
    }
    if (kwargs != NULL && PyDict_GET_SIZE(kwargs)) {
        PyErr_SetString(PyExc_TypeError, "OnMessage(function)");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "K", &function))
        return NULL;
    self = (OnMessage *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->function = (on_message_function)(uintptr_t)function;
    self->vectorcall = on_message_call;
    return (PyObject *)self;
}

static PyTypeObject OnMessageType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "geows.plugin._c_inline.OnMessage",
    .tp_basicsize = sizeof(OnMessage),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_vectorcall_offset = offsetof(OnMessage, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_new = on_message_new,
    .tp_doc = "OnMessage(function)(connection, server, type, data): a plugin's on_message "
              "called here; held(it, cpu_seconds) when a call held the loop",
};

/* setup(fallback, deliver_offset, hold, held, closed_error, send_failed) -> the address of
 * inline_send, for server structs */
static PyObject *setup(PyObject *module, PyObject *args)
{
    unsigned long long address;
    Py_ssize_t offset;
    PyObject *callback, *closed, *failure;

    (void)module;
    if (!PyArg_ParseTuple(args, "KndOOO", &address, &offset, &hold, &callback, &closed,
                          &failure))
        return NULL;
    fallback = (send_function)(uintptr_t)address;
    deliver_offset = offset;
    Py_INCREF(callback);
    Py_XSETREF(held, callback);
    Py_INCREF(closed);
    Py_XSETREF(closed_error, closed);
    Py_INCREF(failure);
    Py_XSETREF(send_failed, failure);
    return PyLong_FromVoidPtr((void *)inline_send);
}

/* spent(seconds): a ctypes callback of this thread (a send handed over, a broadcast...)
 * spent that long in geows */
static PyObject *spent(PyObject *module, PyObject *seconds)
{
    double value = PyFloat_AsDouble(seconds);

    (void)module;
    if (value == -1.0 && PyErr_Occurred())
        return NULL;
    in_geows += value;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"setup", setup, METH_VARARGS,
     "setup(fallback, deliver_offset, hold, held, closed_error, send_failed) -> inline "
     "send's address"},
    {"spent", spent, METH_O,
     "spent(seconds): a callback of this thread spent that long in geows"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef definition = {
    PyModuleDef_HEAD_INIT, "_c_inline", NULL, -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__c_inline(void)
{
    PyObject *module;

    private_name = PyUnicode_InternFromString("private");
    address_name = PyUnicode_InternFromString("address");
    if (private_name == NULL || address_name == NULL || PyType_Ready(&OnMessageType) < 0)
        return NULL;
    module = PyModule_Create(&definition);
    if (module != NULL && PyModule_AddObjectRef(module, "OnMessage",
                                                (PyObject *)&OnMessageType) < 0)
        Py_CLEAR(module);
    return module;
}
