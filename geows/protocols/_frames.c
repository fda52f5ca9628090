/*
 * geows.protocols._frames: the per-frame work of RFC 6455's short path, and draft-76's frame
 * scan, in C. The contract, and the same work in pure Python, are in frames.py: this file
 * does what that one does, result for result (tests/protocols/test_frames.py checks the two
 * on random streams).
 *
 * Sans-I/O: bytes in, events and positions out. The frames it delivers become the same
 * Message events Python would make; every other frame is left to the caller.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* Why a scan stopped: frames.py's WAIT, BUDGET, OVERSIZED, ENGINE, INVALID_TEXT,
   PEER_CLOSE, OVERSIZED_TEXT */
enum { WAIT, BUDGET, OVERSIZED, ENGINE, INVALID_TEXT, PEER_CLOSE, OVERSIZED_TEXT };

/* A text payload this short is unmasked on the stack before it is decoded */
#define STACK_TEXT 512

static PyObject *message_class;     /* geows.protocols.events.Message */
static PyObject *text_type;         /* geows.messages.TEXT */
static PyObject *binary_type;       /* geows.messages.BINARY */

/* RFC 6455 5.3: payload byte i is XORed with mask byte i % 4; eight at a time */
static void unmask(char *out, const unsigned char *in, Py_ssize_t size,
                   const unsigned char *mask)
{
    uint32_t mask32;
    uint64_t mask64, word;
    Py_ssize_t i = 0;

    memcpy(&mask32, mask, 4);
    mask64 = (uint64_t)mask32 << 32 | mask32;
    for (; i + 8 <= size; i += 8) {
        memcpy(&word, in + i, 8);
        word ^= mask64;
        memcpy(out + i, &word, 8);
    }
    for (; i < size; i++)
        out[i] = (char)(in[i] ^ mask[i & 3]);
}

/* Message(type, data) appended to events, taking data's reference: 0, or -1 an error */
static int append_message(PyObject *events, PyObject *type, PyObject *data)
{
    PyObject *args[2] = {type, data}, *event;
    int status;

    event = PyObject_Vectorcall(message_class, args, 2, NULL);
    Py_DECREF(data);
    if (event == NULL)
        return -1;
    status = PyList_Append(events, event);
    Py_DECREF(event);
    return status;
}

/* The payload as a Message event appended to events: 0 done, 1 not UTF-8 (text only),
   -1 a Python error */
static int deliver(PyObject *events, int opcode, const unsigned char *payload,
                   Py_ssize_t size, const unsigned char *mask)
{
    PyObject *data;
    char stack[STACK_TEXT], *text;

    if (opcode == 2) {
        data = PyBytes_FromStringAndSize(NULL, size);
        if (data == NULL)
            return -1;
        unmask(PyBytes_AS_STRING(data), payload, size, mask);
        return append_message(events, binary_type, data);
    }
    text = size <= STACK_TEXT ? stack : PyMem_Malloc((size_t)size);
    if (text == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    unmask(text, payload, size, mask);
    data = PyUnicode_DecodeUTF8(text, size, "strict");
    if (text != stack)
        PyMem_Free(text);
    if (data == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_UnicodeDecodeError))
            return -1;
        PyErr_Clear();
        return 1;
    }
    return append_message(events, text_type, data);
}

static PyObject *scan_frames(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer view;
    const unsigned char *buffer, *mask;
    Py_ssize_t pos, frames, budget, max_size, size, header, end;
    uint64_t length;
    int deliver_frames, stop = WAIT, first, second, opcode, status;
    PyObject *events;

    (void)module;
    if (nargs != 7) {
        PyErr_SetString(PyExc_TypeError, "scan_frames takes 7 arguments: buffer, pos, frames, "
                                         "budget, max_size, deliver, events");
        return NULL;
    }
    pos = PyLong_AsSsize_t(args[1]);
    frames = PyLong_AsSsize_t(args[2]);
    budget = args[3] == Py_None ? -1 : PyLong_AsSsize_t(args[3]);
    max_size = PyLong_AsSsize_t(args[4]);
    deliver_frames = PyObject_IsTrue(args[5]);
    events = args[6];
    if (PyErr_Occurred() || deliver_frames < 0)
        return NULL;
    if (!PyList_Check(events)) {
        PyErr_SetString(PyExc_TypeError, "scan_frames: events must be a list");
        return NULL;
    }
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0)
        return NULL;
    if (pos < 0 || pos > view.len) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "scan_frames: pos outside the buffer");
        return NULL;
    }
    buffer = view.buf;
    size = view.len;
    header = end = 0;
    while (size - pos >= 2) {
        if (frames == budget) {
            stop = BUDGET;
            break;
        }
        frames++;
        first = buffer[pos];
        second = buffer[pos + 1];
        length = second & 0x7F;
        header = 2;
        if (length >= 126) {  /* 5.2: a 16-bit or 64-bit extended length follows */
            header = length == 126 ? 4 : 10;
            if (size - pos < header)
                break;
            length = 0;
            for (Py_ssize_t i = pos + 2; i < pos + header; i++)
                length = length << 8 | buffer[i];
        }
        if (max_size < 0 || length > (uint64_t)max_size) {
            stop = OVERSIZED;
            break;
        }
        header += second & 0x80 ? 4 : 0;
        if (size - pos < header || (uint64_t)(size - pos - header) < length)
            break;
        end = pos + header + (Py_ssize_t)length;
        opcode = first & 0x0F;
        /* FIN, no RSV bits, masked, text or binary: frames.py's short path */
        if (!(deliver_frames && (first & 0xF0) == 0x80 && second & 0x80
              && (opcode == 1 || opcode == 2))) {
            stop = ENGINE;
            break;
        }
        mask = buffer + pos + header - 4;
        status = deliver(events, opcode, buffer + pos + header, (Py_ssize_t)length, mask);
        if (status < 0) {
            PyBuffer_Release(&view);
            return NULL;
        }
        if (status > 0) {
            stop = INVALID_TEXT;
            break;
        }
        pos = end;
    }
    PyBuffer_Release(&view);
    if (stop != ENGINE && stop != INVALID_TEXT)
        header = end = 0;
    return Py_BuildValue("(innnn)", stop, pos, frames, header, end);
}

/* 5.2: FIN and the opcode, then the length; server frames are not masked */
static PyObject *append_frame(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer payload;
    PyObject *output;
    Py_ssize_t start, header;
    unsigned char *out;
    long opcode;
    uint64_t length;

    (void)module;
    if (nargs != 3 || !PyByteArray_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "append_frame takes a bytearray, an opcode and "
                                         "a payload");
        return NULL;
    }
    output = args[0];
    opcode = PyLong_AsLong(args[1]);
    if (opcode == -1 && PyErr_Occurred())
        return NULL;
    if (PyObject_GetBuffer(args[2], &payload, PyBUF_SIMPLE) < 0)
        return NULL;
    length = (uint64_t)payload.len;
    header = length < 126 ? 2 : length < 65536 ? 4 : 10;
    start = PyByteArray_GET_SIZE(output);
    if (PyByteArray_Resize(output, start + header + payload.len) < 0) {
        PyBuffer_Release(&payload);
        return NULL;
    }
    out = (unsigned char *)PyByteArray_AS_STRING(output) + start;
    out[0] = (unsigned char)(0x80 | opcode);
    if (header == 2) {
        out[1] = (unsigned char)length;
    } else {
        out[1] = header == 4 ? 126 : 127;
        for (Py_ssize_t i = header - 1; i >= 2; i--, length >>= 8)
            out[i] = (unsigned char)(length & 0xFF);
    }
    memcpy(out + header, payload.buf, (size_t)payload.len);
    PyBuffer_Release(&payload);
    Py_RETURN_NONE;
}

/* The payload of a draft-76 text frame as a Message event (invalid UTF-8 as U+FFFD) */
static int deliver_text(PyObject *events, const unsigned char *payload, Py_ssize_t size)
{
    PyObject *text = PyUnicode_DecodeUTF8((const char *)payload, size, "replace");

    return text == NULL ? -1 : append_message(events, text_type, text);
}

static PyObject *scan_draft76(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer view;
    const unsigned char *buffer, *sentinel;
    Py_ssize_t pos = 0, frames = 0, budget, max_size, skip, scanned, size, at, dropped;
    uint64_t length;
    unsigned char frame_type, byte, low;
    int deliver_frames, stop = WAIT;
    PyObject *events;

    (void)module;
    if (nargs != 7) {
        PyErr_SetString(PyExc_TypeError, "scan_draft76 takes 7 arguments: buffer, budget, "
                                         "max_size, skip, scanned, deliver, events");
        return NULL;
    }
    budget = args[1] == Py_None ? -1 : PyLong_AsSsize_t(args[1]);
    max_size = PyLong_AsSsize_t(args[2]);
    skip = PyLong_AsSsize_t(args[3]);
    scanned = PyLong_AsSsize_t(args[4]);
    deliver_frames = PyObject_IsTrue(args[5]);
    events = args[6];
    if (PyErr_Occurred() || deliver_frames < 0)
        return NULL;
    if (!PyList_Check(events) || skip < 0 || scanned < 1) {
        PyErr_SetString(PyExc_ValueError, "scan_draft76: events must be a list, skip >= 0, "
                                          "scanned >= 1");
        return NULL;
    }
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0)
        return NULL;
    buffer = view.buf;
    size = view.len;
    while (pos < size) {
        if (frames == budget) {
            stop = BUDGET;
            break;
        }
        frames++;
        if (skip) {
            dropped = skip < size - pos ? skip : size - pos;
            pos += dropped;
            skip -= dropped;
            if (skip)
                break;
            continue;
        }
        frame_type = buffer[pos];
        if (frame_type & 0x80) {
            /* A length-prefixed frame, 7 bits per byte, high bit set on all but the last */
            length = 0;
            at = pos + 1;
            do {
                if (at >= size)
                    goto done;
                byte = buffer[at++];
                low = byte & 0x7F;
                /* length * 128 + low > max_size, without overflowing */
                if (max_size < low || length > (uint64_t)(max_size - low) / 128) {
                    stop = OVERSIZED;
                    goto done;
                }
                length = length * 128 + low;
            } while (byte & 0x80);
            if (frame_type == 0xFF && length == 0) {
                stop = PEER_CLOSE;
                pos = at;
                break;
            }
            pos = at;
            skip = (Py_ssize_t)length;
            continue;
        }
        /* A sentinel frame runs to the next 0xFF */
        sentinel = scanned < size - pos
                   ? memchr(buffer + pos + scanned, 0xFF, (size_t)(size - pos - scanned))
                   : NULL;
        if (sentinel == NULL) {
            if (size - pos - 1 > max_size)
                stop = OVERSIZED_TEXT;
            else
                scanned = size - pos;
            break;
        }
        if (frame_type == 0x00 && deliver_frames
                && deliver_text(events, buffer + pos + 1, sentinel - (buffer + pos + 1)) < 0) {
            PyBuffer_Release(&view);
            return NULL;
        }
        pos = sentinel - buffer + 1;
        scanned = 1;
    }
done:
    PyBuffer_Release(&view);
    return Py_BuildValue("(innn)", stop, pos, skip, scanned);
}

static PyMethodDef methods[] = {
    {"scan_frames", (PyCFunction)(void (*)(void))scan_frames, METH_FASTCALL,
     "scan_frames(buffer, pos, frames, budget, max_size, deliver, events) -> "
     "(stop, pos, frames, header, end): as geows.protocols.frames.python_scan_frames"},
    {"append_frame", (PyCFunction)(void (*)(void))append_frame, METH_FASTCALL,
     "append_frame(output, opcode, payload): as geows.protocols.frames.python_append_frame"},
    {"scan_draft76", (PyCFunction)(void (*)(void))scan_draft76, METH_FASTCALL,
     "scan_draft76(buffer, budget, max_size, skip, scanned, deliver, events) -> "
     "(stop, pos, skip, scanned): as geows.protocols.frames.python_scan_draft76"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef definition = {
    PyModuleDef_HEAD_INIT, "_frames", NULL, -1, methods, NULL, NULL, NULL, NULL,
};

/* The one attribute `name` of module `module_name`, or NULL with an error set */
static PyObject *imported(const char *module_name, const char *name)
{
    PyObject *module = PyImport_ImportModule(module_name), *value;

    if (module == NULL)
        return NULL;
    value = PyObject_GetAttrString(module, name);
    Py_DECREF(module);
    return value;
}

PyMODINIT_FUNC PyInit__frames(void)
{
    message_class = imported("geows.protocols.events", "Message");
    text_type = message_class ? imported("geows.messages", "TEXT") : NULL;
    binary_type = text_type ? imported("geows.messages", "BINARY") : NULL;
    if (binary_type == NULL)
        return NULL;
    return PyModule_Create(&definition);
}
