/*
 * geows.plugin._c_inline: a C plugin's on_message called on the event loop without
 * ctypes, and the plugin's send() during that call handed straight to its connection.
 *
 * ctypes costs microseconds a crossing (arguments converted, the GIL released and taken
 * back, a callback's frame built): more than the whole Python echo spends on a message.
 * Here on_message is called with the GIL held, and send() - the one callback an echo
 * makes - finds the connection's deliver() beside its server struct and calls it with
 * the message's bytes. A send() from any other context (a plugin's own thread, a call in
 * a pool thread, on_connect through ctypes) does not hold the GIL, and goes to the
 * ctypes callback as before. Only libraries that import nothing that can wait are
 * called here (geows.plugin.c_calls): holding the GIL in them holds no one for long.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef size_t (*send_function)(const void *server, int type, const unsigned char *buffer,
                                size_t size);
typedef size_t (*on_message_function)(void *private_data, const void *server, int type,
                                      unsigned char *buffer, size_t size);

static send_function fallback;      /* the ctypes send callback */
static Py_ssize_t deliver_offset;   /* a connection's deliver(), after its server struct */

/* The message types of websocket_plugin.h (geows.messages) */
static int known_type(int type)
{
    return type == 0 || type == 128 || type == 255 || type == 256 || type == 257;
}

static size_t inline_send(const void *server, int type, const unsigned char *buffer,
                          size_t size)
{
    PyObject *deliver, *args[2], *result;
    size_t sent;

    if (server == NULL || !PyGILState_Check())
        return fallback(server, type, buffer, size);
    deliver = *(PyObject *const *)((const char *)server + deliver_offset);
    if (deliver == NULL || deliver == Py_None || (buffer == NULL && size) || !known_type(type))
        return fallback(server, type, buffer, size);  /* it says what is wrong */
    /* TEXT as the str a Python plugin sends: UTF-8 checked once, here */
    args[1] = type == 0 ? PyUnicode_DecodeUTF8((const char *)buffer, (Py_ssize_t)size, "strict")
                        : PyBytes_FromStringAndSize((const char *)buffer, (Py_ssize_t)size);
    if (args[1] == NULL) {
        PyErr_Clear();
        return fallback(server, type, buffer, size);
    }
    args[0] = PyLong_FromLong(type);
    if (args[0] == NULL) {
        Py_DECREF(args[1]);
        PyErr_WriteUnraisable(deliver);
        return 0;
    }
    result = PyObject_Vectorcall(deliver, args, 2, NULL);
    Py_DECREF(args[0]);
    Py_DECREF(args[1]);
    if (result == NULL) {  /* deliver() catches what it can: this is a bug of geows' */
        PyErr_WriteUnraisable(deliver);
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

/* setup(fallback, deliver_offset) -> the address of inline_send, for server structs */
static PyObject *setup(PyObject *module, PyObject *args)
{
    unsigned long long address;
    Py_ssize_t offset;

    (void)module;
    if (!PyArg_ParseTuple(args, "Kn", &address, &offset))
        return NULL;
    fallback = (send_function)(uintptr_t)address;
    deliver_offset = offset;
    return PyLong_FromVoidPtr((void *)inline_send);
}

/* This thread's CPU time: a call preempted on a busy machine has not held the loop */
static double cpu_now(void)
{
    struct timespec at;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &at);
    return (double)at.tv_sec + (double)at.tv_nsec / 1e9;
}

/* on_message(function, private, server, type, data) -> the CPU seconds it took: the plugin's
 * on_message with a NUL-terminated copy of data (bytes, or a str as UTF-8) it may write
 * to, as mod_websocket gave it */
static PyObject *on_message(PyObject *module, PyObject *args)
{
    unsigned long long function, private_data, server;
    int type;
    const char *data;
    Py_ssize_t size;
    unsigned char *copy;
    double start;

    (void)module;
    if (!PyArg_ParseTuple(args, "KKKis#", &function, &private_data, &server, &type, &data,
                          &size))
        return NULL;
    copy = malloc((size_t)size + 1);
    if (copy == NULL)
        return PyErr_NoMemory();
    memcpy(copy, data, (size_t)size);
    copy[size] = '\0';
    start = cpu_now();
    ((on_message_function)(uintptr_t)function)((void *)(uintptr_t)private_data,
                                                (const void *)(uintptr_t)server, type, copy,
                                                (size_t)size);
    start = cpu_now() - start;
    free(copy);
    if (PyErr_Occurred())
        return NULL;
    return PyFloat_FromDouble(start);
}

static PyMethodDef methods[] = {
    {"setup", setup, METH_VARARGS, "setup(fallback, deliver_offset) -> inline send's address"},
    {"on_message", on_message, METH_VARARGS,
     "on_message(function, private, server, type, data) -> CPU seconds: call it here"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef definition = {
    PyModuleDef_HEAD_INIT, "_c_inline", NULL, -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__c_inline(void)
{
    return PyModule_Create(&definition);
}
