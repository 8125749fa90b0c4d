/* The compiled build's reader of a live AMI event's "Key: Value" lines.

   The same result as acd/pbx/framing.py's read_lines in Python, which the
   interpreted build runs and which stays the reference (tests/pbx/test_framing.py
   holds both to a plain reading): a dict of key -> value, a repeated key's values collected in a
   list in their order. A frame with a line that has no ": " gives None, and the
   caller reads it the slow way (framing._parse_any).

   Why C: turning a frame into a dict was a third of acd's CPU per AMI event, most of
   it making strings for header lines that repeat verbatim from event to event
   (Privilege, Context, Language, an agent's CallerIDName...). Here a line seen lately
   is found in a cache by its bytes, without making a string for it, and its key and
   value are the same objects as last time (bench/ami_ingest.py).

   The cache is direct-mapped and bounded: one slot per hash, a new line takes the
   slot over, a line longer than LINE_KEPT_MAX bytes is never kept, and only frames
   of one byte per character (Latin-1, which every ASCII frame is) use it; the others
   make their strings every time. Lines that collide only cost a miss, never a wrong
   answer: a hit compares the bytes. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define SLOTS 4096 /* a power of two */
#define LINE_KEPT_MAX 200

typedef struct {
    uint64_t hash;
    Py_ssize_t length; /* 0: empty slot (a kept line has at least ": ") */
    PyObject *key;     /* interned */
    PyObject *value;
    Py_UCS1 line[LINE_KEPT_MAX];
} Slot;

static Slot slots[SLOTS];

/* a line's hash, eight bytes at a time (lines are short: this runs for every one) */
static uint64_t
line_hash(const Py_UCS1 *s, Py_ssize_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ (uint64_t)n;
    uint64_t word;
    for (; n >= 8; s += 8, n -= 8) {
        memcpy(&word, s, 8);
        h = (h ^ word) * 0xFF51AFD7ED558CCDULL;
        h ^= h >> 29;
    }
    word = 0;
    memcpy(&word, s, (size_t)n);
    h = (h ^ word) * 0xC4CEB9FE1A85EC53ULL;
    return h ^ (h >> 32);
}

/* key -> value into out; a repeated key's values become a list, in order */
static int
add(PyObject *out, PyObject *key, PyObject *value)
{
    /* one lookup: the dict grows when the key is new, else it hands back what it had */
    Py_ssize_t size = PyDict_GET_SIZE(out);
    PyObject *previous = PyDict_SetDefault(out, key, value); /* borrowed */
    if (previous == NULL)
        return -1;
    if (PyDict_GET_SIZE(out) != size)
        return 0;
    if (PyList_CheckExact(previous))
        return PyList_Append(previous, value);
    PyObject *both = PyList_New(2);
    if (both == NULL)
        return -1;
    Py_INCREF(previous);
    Py_INCREF(value);
    PyList_SET_ITEM(both, 0, previous);
    PyList_SET_ITEM(both, 1, value);
    int failed = PyDict_SetItem(out, key, both);
    Py_DECREF(both);
    return failed;
}

/* the key and value of frame[start:end], whose ": " is at colon: new references */
static int
split_line(PyObject *frame, Py_ssize_t start, Py_ssize_t colon, Py_ssize_t end,
           PyObject **key, PyObject **value)
{
    *key = PyUnicode_Substring(frame, start, colon);
    if (*key == NULL)
        return -1;
    PyUnicode_InternInPlace(key);
    *value = PyUnicode_Substring(frame, colon + 2, end);
    if (*value == NULL) {
        Py_CLEAR(*key);
        return -1;
    }
    return 0;
}

/* one line of a one-byte frame, through the cache */
static int
add_kept(PyObject *out, PyObject *frame, const Py_UCS1 *s, Py_ssize_t start,
         Py_ssize_t colon, Py_ssize_t end)
{
    Py_ssize_t length = end - start;
    PyObject *key, *value;
    if (length > LINE_KEPT_MAX) {
        if (split_line(frame, start, colon, end, &key, &value) < 0)
            return -1;
        int failed = add(out, key, value);
        Py_DECREF(key);
        Py_DECREF(value);
        return failed;
    }
    uint64_t hash = line_hash(s + start, length);
    Slot *slot = &slots[hash & (SLOTS - 1)];
    if (slot->length != length || slot->hash != hash || memcmp(slot->line, s + start, length) != 0) {
        if (split_line(frame, start, colon, end, &key, &value) < 0)
            return -1;
        Py_XSETREF(slot->key, key);
        Py_XSETREF(slot->value, value);
        slot->hash = hash;
        slot->length = length;
        memcpy(slot->line, s + start, length);
    }
    /* held while added: a collection that add() may set off could run code that
       reads a frame and takes this slot over */
    key = slot->key;
    value = slot->value;
    Py_INCREF(key);
    Py_INCREF(value);
    int failed = add(out, key, value);
    Py_DECREF(key);
    Py_DECREF(value);
    return failed;
}

static void
find_line_1byte(const Py_UCS1 *s, Py_ssize_t n, Py_ssize_t start, Py_ssize_t *end, Py_ssize_t *colon)
{
    Py_ssize_t i = start;
    *end = n;
    while (i < n) {
        const Py_UCS1 *cr = memchr(s + i, '\r', n - i);
        if (cr == NULL)
            break;
        i = cr - s;
        if (i + 1 < n && s[i + 1] == '\n') {
            *end = i;
            break;
        }
        i++;
    }
    *colon = -1;
    for (i = start; i < *end;) {
        const Py_UCS1 *c = memchr(s + i, ':', *end - i);
        if (c == NULL)
            break;
        i = c - s;
        if (i + 1 < *end && s[i + 1] == ' ') {
            *colon = i;
            break;
        }
        i++;
    }
}

/* find_line_1byte for frames of two or four bytes per character */
static void
find_line(int kind, const void *data, Py_ssize_t n, Py_ssize_t start, Py_ssize_t *end, Py_ssize_t *colon)
{
    *colon = -1;
    for (*end = start; *end < n; (*end)++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, *end);
        if (c == '\r' && *end + 1 < n && PyUnicode_READ(kind, data, *end + 1) == '\n')
            return;
        if (c == ':' && *colon < 0 && *end + 1 < n && PyUnicode_READ(kind, data, *end + 1) == ' ')
            *colon = *end;
    }
}

static PyObject *
parse_lines(PyObject *module, PyObject *frame)
{
    (void)module;
    if (!PyUnicode_Check(frame)) {
        PyErr_Format(PyExc_TypeError, "parse_lines() wants a str, not %.100s", Py_TYPE(frame)->tp_name);
        return NULL;
    }
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(frame) < 0)
        return NULL;
#endif
    int kind = PyUnicode_KIND(frame);
    const void *data = PyUnicode_DATA(frame);
    Py_ssize_t n = PyUnicode_GET_LENGTH(frame);
    PyObject *out = PyDict_New();
    if (out == NULL)
        return NULL;
    Py_ssize_t start = 0;
    for (;;) {
        /* the line is frame[start:end]: up to the next "\r\n" (a lone "\r" or "\n"
           stays in it, as str.split("\r\n") leaves it), or the frame's end; its
           first ": " is at colon, as str.partition finds it */
        Py_ssize_t end, colon;
        if (kind == PyUnicode_1BYTE_KIND)
            find_line_1byte((const Py_UCS1 *)data, n, start, &end, &colon);
        else
            find_line(kind, data, n, start, &end, &colon);
        if (colon < 0) { /* no ": " in the line: the caller's slow way */
            Py_DECREF(out);
            Py_RETURN_NONE;
        }
        int failed;
        if (kind == PyUnicode_1BYTE_KIND) {
            failed = add_kept(out, frame, (const Py_UCS1 *)data, start, colon, end);
        }
        else {
            PyObject *key, *value;
            failed = split_line(frame, start, colon, end, &key, &value);
            if (!failed) {
                failed = add(out, key, value);
                Py_DECREF(key);
                Py_DECREF(value);
            }
        }
        if (failed) {
            Py_DECREF(out);
            return NULL;
        }
        if (end >= n)
            return out;
        start = end + 2;
    }
}

static PyMethodDef methods[] = {
    {"parse_lines", parse_lines, METH_O,
     "parse_lines(frame: str) -> dict | None\n\n"
     "A live event's \"Key: Value\" lines as framing.parse_event reads them, or None\n"
     "for a frame with a line that has no \": \"."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "acd.pbx._headers",
    "The compiled build's AMI header reader (see framing.read_lines).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__headers(void)
{
    return PyModule_Create(&module);
}
