#!/usr/bin/env python3
"""Generate samsa's protocol codec (C) from the schema files in src/proto/schema.

usage: gen.py SCHEMA_DIR OUT_DIR

Writes OUT_DIR/constants.h and OUT_DIR/constants.c (the API keys and Kafka's
error codes, with their names), OUT_DIR/messages.h, OUT_DIR/messages.c
(structs, init/decode/encode per struct, the API table, generic dispatch) and
OUT_DIR/messages_fill.c (test-only helpers that populate every field present at
a version).  The schema language is described in src/proto/schema/README.
"""

import os
import re
import shlex
import sys

INF = 0x7FFF
PRIMS = {
    "bool": "bool", "int8": "int8_t", "int16": "int16_t", "uint16": "uint16_t",
    "int32": "int32_t", "uint32": "uint32_t", "int64": "int64_t", "float64": "double",
    "string": "struct kstr", "bytes": "struct kbytes", "records": "struct kbytes", "uuid": "uuid",
}
C_KEYWORDS = {"default", "int", "char", "long", "short", "auto", "register", "switch", "case",
              "struct", "union", "enum", "const", "static", "return", "if", "else", "for",
              "while", "do", "break", "continue", "goto", "sizeof", "typedef", "void",
              "volatile", "extern", "signed", "unsigned", "float", "double", "inline"}


class SchemaError(Exception):
    pass


def snake(n):
    n = re.sub("([A-Z]+)([A-Z][a-z])", r"\1_\2", n)
    n = re.sub("([a-z0-9])([A-Z])", r"\1_\2", n)
    return n.lower()


def cfield(n):
    s = snake(n)
    return s + "_" if s in C_KEYWORDS else s


def vrange(s):
    if s == "none":
        return (1, 0)
    m = re.fullmatch(r"(\d+)\+", s)
    if m:
        return (int(m.group(1)), INF)
    m = re.fullmatch(r"(\d+)-(\d+)", s)
    if m:
        return (int(m.group(1)), int(m.group(2)))
    m = re.fullmatch(r"(\d+)", s)
    if m:
        return (int(m.group(1)), int(m.group(1)))
    raise SchemaError("bad version range %r" % s)


def vcond(rng, var="version"):
    lo, hi = rng
    if lo > hi:
        return "0"
    parts = []
    if lo > 0:
        parts.append("%s >= %d" % (var, lo))
    if hi != INF:
        parts.append("%s <= %d" % (var, hi))
    return " && ".join(parts) if parts else "1"


def intersect(a, b):
    return (max(a[0], b[0]), min(a[1], b[1]))


class Field:
    def __init__(self, name, typ, versions, attrs):
        self.name = name
        self.c = cfield(name)
        self.array = typ.startswith("[]")
        self.base = typ[2:] if self.array else typ
        self.versions = vrange(versions)
        self.nullable = vrange(attrs.get("null", "none"))
        self.tag = int(attrs["tag"]) if "tag" in attrs else None
        self.tagged = vrange(attrs.get("tagged", "none"))
        self.default = attrs.get("default")
        self.struct = None  # Struct for struct-typed fields
        self.children = []

    @property
    def is_struct(self):
        return self.base not in PRIMS


class Struct:
    def __init__(self, name, cname):
        self.name = name
        self.cname = cname
        self.fields = []


class Message:
    def __init__(self, kind, name, attrs):
        self.kind = kind
        self.name = name
        self.c = snake(name)
        self.key = int(attrs["key"]) if "key" in attrs else None
        self.versions = vrange(attrs["versions"])
        self.flex = vrange(attrs.get("flex", "none"))
        self.listeners = attrs.get("listeners", "").split(",") if attrs.get("listeners") else []
        self.structs = []  # in dependency order (children first)
        self.root = None


class ErrorCode:
    def __init__(self, name, attrs, where):
        if not re.fullmatch(r"[A-Z][A-Z0-9_]*", name):
            raise SchemaError("%s: bad error name %r" % (where, name))
        if "code" not in attrs:
            raise SchemaError("%s: error %s has no code" % (where, name))
        unknown = set(attrs) - {"code", "retriable", "message"}
        if unknown:
            raise SchemaError("%s: error %s: unknown attribute %s" % (where, name, sorted(unknown)[0]))
        if attrs.get("retriable", "no") not in ("yes", "no"):
            raise SchemaError("%s: error %s: retriable is yes or no" % (where, name))
        self.name = name
        self.code = int(attrs["code"])
        self.retriable = attrs.get("retriable") == "yes"
        self.message = attrs.get("message", "")


def parse_attrs(tokens):
    out = {}
    for t in tokens:
        if "=" not in t:
            raise SchemaError("bad attribute %r" % t)
        k, v = t.split("=", 1)
        out[k] = v
    return out


def parse_file(path, errors):
    """Messages of one schema file; `error` lines go to the list `errors`."""
    msgs = []
    lines = []
    for no, raw in enumerate(open(path), 1):
        line = raw.rstrip("\n")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        ind = len(line) - len(line.lstrip(" "))
        if ind % 2:
            raise SchemaError("%s:%d: odd indentation" % (path, no))
        lines.append((ind // 2, line.strip(), no))
    i = 0
    while i < len(lines):
        depth, text, no = lines[i]
        if depth != 0:
            raise SchemaError("%s:%d: expected a message header" % (path, no))
        if text.startswith("error "):
            where = "%s:%d" % (path, no)
            try:
                toks = shlex.split(text)
            except ValueError as e:
                raise SchemaError("%s: %s" % (where, e))
            errors.append(ErrorCode(toks[1], parse_attrs(toks[2:]), where))
            i += 1
            if i < len(lines) and lines[i][0] > 0:
                raise SchemaError("%s:%d: an error line has no fields" % (path, lines[i][2]))
            continue
        toks = text.split()
        m = Message(toks[0], toks[1], parse_attrs(toks[2:]))
        i += 1
        block = []
        while i < len(lines) and lines[i][0] > 0:
            block.append(lines[i])
            i += 1
        build_message(m, block, path)
        msgs.append(m)
    return msgs


def parse_fields(block, pos, depth, path):
    """Parse fields at `depth` starting at block[pos]; returns (fields, new pos)."""
    fields = []
    while pos < len(block) and block[pos][0] == depth:
        _, text, no = block[pos]
        if text.startswith("common "):
            break
        m = re.fullmatch(r"(\w+): (\S+) (\S+)((?: \S+)*)", text)
        if not m:
            raise SchemaError("%s:%d: bad field line %r" % (path, no, text))
        f = Field(m.group(1), m.group(2), m.group(3), parse_attrs(m.group(4).split()))
        pos += 1
        if pos < len(block) and block[pos][0] > depth:
            f.children, pos = parse_fields(block, pos, depth + 1, path)
        fields.append(f)
    return fields, pos


def build_message(m, block, path):
    fields, pos = parse_fields(block, 0, 1, path)
    commons = {}
    while pos < len(block):
        _, text, no = block[pos]
        toks = text.split()
        if toks[0] != "common":
            raise SchemaError("%s:%d: unexpected %r" % (path, no, text))
        pos += 1
        cf, pos = parse_fields(block, pos, 2, path)
        commons[toks[1]] = cf
    made = {}

    def make_struct(name, flds):
        if name in made:
            return made[name]
        s = Struct(name, "%s_%s" % (m.c, snake(name)))
        made[name] = s
        for f in flds:
            resolve(f)
        s.fields = flds
        m.structs.append(s)
        return s

    def resolve(f):
        if not f.is_struct:
            if f.children:
                raise SchemaError("%s: primitive %s has children" % (path, f.name))
            return
        if f.children:
            f.struct = make_struct(f.base, f.children)
        elif f.base in commons:
            f.struct = make_struct(f.base, commons[f.base])
        else:
            raise SchemaError("%s: unknown type %s of %s" % (path, f.base, f.name))

    root = Struct(m.name, m.c)
    for f in fields:
        resolve(f)
    root.fields = fields
    m.root = root
    m.structs.append(root)


# ---------------------------------------------------------------- C emission

def ctype(f):
    if f.is_struct:
        return "struct %s" % f.struct.cname
    return PRIMS[f.base]


def member_decl(f):
    if f.array:
        t = ctype(f)
        if t == "uuid":
            return ["uint8_t (*%s)[16];" % f.c, "int32_t %s_count;" % f.c]
        return ["%s *%s;" % (t, f.c), "int32_t %s_count;" % f.c]
    if f.base == "uuid":
        return ["uint8_t %s[16];" % f.c]
    return ["%s %s;" % (ctype(f), f.c)]


def c_string_literal(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def default_scalar(f):
    d = f.default
    if f.base == "bool":
        return "true" if d == "true" else "false"
    if f.base in ("int8", "int16", "uint16", "int32", "uint32", "int64"):
        if d is None:
            return "0"
        v = int(d, 0)
        if f.base == "int64":
            return "INT64_C(%d)" % v if v != -(2 ** 63) else "INT64_MIN"
        if v == -2147483648:
            return "INT32_MIN"
        return str(v)
    if f.base == "float64":
        return d if d else "0.0"
    raise AssertionError(f.base)


def emit_init(out, s):
    out.append("void %s_init(struct %s *m)" % (s.cname, s.cname))
    out.append("{")
    out.append("\tmemset(m, 0, sizeof *m);")
    for f in s.fields:
        if f.array:
            if f.default == "null":
                out.append("\tm->%s_count = -1;" % f.c)
            continue
        if f.is_struct:
            out.append("\t%s_init(&m->%s);" % (f.struct.cname, f.c))
        elif f.base == "string":
            if f.default == "null":
                out.append("\tm->%s = (struct kstr){ NULL, -1 };" % f.c)
            elif f.default is not None and f.default != '""':
                out.append("\tm->%s = (struct kstr){ %s, %d };" % (f.c, c_string_literal(f.default), len(f.default)))
            else:
                out.append("\tm->%s = (struct kstr){ \"\", 0 };" % f.c)
        elif f.base in ("bytes", "records"):
            if f.default == "null" or f.base == "records":
                out.append("\tm->%s = (struct kbytes){ NULL, -1 };" % f.c)
            else:
                out.append("\tm->%s = (struct kbytes){ proto_empty, 0 };" % f.c)
        elif f.base == "uuid":
            pass
        else:
            v = default_scalar(f)
            if v not in ("0", "false", "0.0"):
                out.append("\tm->%s = %s;" % (f.c, v))
    out.append("}")
    out.append("")


def is_default_expr(f, ref):
    """C expression true when the field holds its default (for tagged fields)."""
    if f.array:
        return "%s_count == %d" % (ref, -1 if f.default == "null" else 0)
    if f.is_struct:
        return "%s_is_default(&%s)" % (f.struct.cname, ref)
    if f.base == "string":
        if f.default == "null":
            return "%s.ptr == NULL" % ref
        lit = f.default if f.default not in (None, '""') else ""
        return "proto_kstr_is(%s, %s)" % (ref, c_string_literal(lit))
    if f.base in ("bytes", "records"):
        if f.default == "null" or f.base == "records":
            return "%s.ptr == NULL" % ref
        return "(%s.ptr != NULL && %s.len == 0)" % (ref, ref)
    if f.base == "uuid":
        return "proto_uuid_is_zero(%s)" % ref
    return "%s == %s" % (ref, default_scalar(f))


def emit_is_default(out, s):
    out.append("static bool %s_is_default(const struct %s *m)" % (s.cname, s.cname))
    out.append("{")
    if not s.fields:
        out.append("\t(void)m;")
    conds = [is_default_expr(f, "m->" + f.c) for f in s.fields]
    out.append("\treturn %s;" % (" &&\n\t       ".join(conds) if conds else "true"))
    out.append("}")
    out.append("")


def read_prim(f, flex_var, target, ind):
    b = f.base
    t = "\t" * ind
    if b == "bool":
        return [t + "%s = rd_bool(r);" % target]
    if b in ("int8", "int16", "int32", "int64"):
        return [t + "%s = rd_i%s(r);" % (target, b[3:])]
    if b == "uint16":
        return [t + "%s = rd_u16(r);" % target]
    if b == "uint32":
        return [t + "%s = rd_u32(r);" % target]
    if b == "float64":
        return [t + "%s = rd_f64(r);" % target]
    if b == "uuid":
        return [t + "rd_uuid(r, %s);" % target]
    if b == "string":
        return [t + "%s = %s ? rd_compact_string(r) : rd_string(r);" % (target, flex_var)]
    if b in ("bytes", "records"):
        return [t + "%s = %s ? rd_compact_bytes(r) : rd_bytes(r);" % (target, flex_var)]
    raise AssertionError(b)


def write_prim(f, target, ind):
    b = f.base
    t = "\t" * ind
    if b == "bool":
        return [t + "wbuf_bool(w, %s);" % target]
    if b in ("int8", "int16", "int32", "int64"):
        return [t + "wbuf_i%s(w, %s);" % (b[3:], target)]
    if b == "uint16":
        return [t + "wbuf_i16(w, (int16_t)%s);" % target]
    if b == "uint32":
        return [t + "wbuf_u32(w, %s);" % target]
    if b == "float64":
        return [t + "wbuf_f64(w, %s);" % target]
    if b == "uuid":
        return [t + "wbuf_uuid(w, %s);" % target]
    if b == "string":
        return [t + "proto_write_string(w, flex, %s);" % target]
    if b in ("bytes", "records"):
        return [t + "proto_write_bytes(w, flex, %s);" % target]
    raise AssertionError(b)


def decode_field(f, ind):
    """Lines decoding field f into m->f (reader r, arena a, version, flex)."""
    t = "\t" * ind
    ref = "m->" + f.c
    out = []
    if f.array:
        out.append(t + "{")
        out.append(t + "\tint32_t n = flex ? rd_compact_array_len(r) : rd_array_len(r);")
        out.append(t + "\t%s_count = n;" % ref)
        out.append(t + "\tif (n > 0) {")
        if f.is_struct:
            et = "struct %s" % f.struct.cname
        elif f.base == "uuid":
            et = "uint8_t[16]"
        else:
            et = PRIMS[f.base]
        sz = "sizeof(%s)" % et
        out.append(t + "\t\t%s = arena_alloc(a, %s * (size_t)n);" % (ref, sz))
        out.append(t + "\t\tfor (int32_t i = 0; i < n && !r->err; i++) {")
        if f.is_struct:
            out.append(t + "\t\t\tif (%s_decode(r, a, version, &%s[i]) != 0)" % (f.struct.cname, ref))
            out.append(t + "\t\t\t\treturn -1;")
        else:
            out += read_prim(f, "flex", "%s[i]" % ref, ind + 3)
        out.append(t + "\t\t}")
        out.append(t + "\t}")
        out.append(t + "}")
        return out
    if f.is_struct:
        out.append(t + "if (%s_decode(r, a, version, &%s) != 0)" % (f.struct.cname, ref))
        out.append(t + "\treturn -1;")
        return out
    return read_prim(f, "flex", ref, ind)


def encode_field(f, ind):
    t = "\t" * ind
    ref = "m->" + f.c
    out = []
    if f.array:
        out.append(t + "if (flex)")
        out.append(t + "\twbuf_compact_array_len(w, %s_count < 0 ? -1 : %s_count);" % (ref, ref))
        out.append(t + "else")
        out.append(t + "\twbuf_array_len(w, %s_count < 0 ? -1 : %s_count);" % (ref, ref))
        out.append(t + "for (int32_t i = 0; i < %s_count; i++) {" % ref)
        if f.is_struct:
            out.append(t + "\t%s_encode(w, version, &%s[i]);" % (f.struct.cname, ref))
        else:
            out += write_prim(f, "%s[i]" % ref, ind + 1)
        out.append(t + "}")
        return out
    if f.is_struct:
        out.append(t + "%s_encode(w, version, &%s);" % (f.struct.cname, ref))
        return out
    return write_prim(f, ref, ind)


def emit_decode(out, m, s):
    out.append("int %s_decode(struct rd *r, struct arena *a, int16_t version, struct %s *m)" % (s.cname, s.cname))
    out.append("{")
    out.append("\tbool flex = %s;" % vcond(m.flex))
    out.append("\t(void)a;")
    out.append("\t(void)flex;")
    out.append("\t%s_init(m);" % s.cname)
    for f in s.fields:
        if f.tag is not None:
            continue
        out.append("\tif (%s) {" % vcond(f.versions))
        out += decode_field(f, 2)
        out.append("\t}")
    out.append("\tif (flex) {")
    out.append("\t\tuint32_t ntags = rd_uvarint(r);")
    out.append("\t\tfor (uint32_t t = 0; t < ntags && !r->err; t++) {")
    out.append("\t\t\tuint32_t tag = rd_uvarint(r);")
    out.append("\t\t\tuint32_t size = rd_uvarint(r);")
    out.append("\t\t\tconst uint8_t *p = rd_take(r, size);")
    out.append("\t\t\tif (!p)")
    out.append("\t\t\t\treturn -1;")
    tagged = [f for f in s.fields if f.tag is not None]
    if tagged:
        out.append("\t\t\tstruct rd sub;")
        out.append("\t\t\trd_init(&sub, p, size);")
        out.append("\t\t\tstruct rd *outer = r;")
        out.append("\t\t\tr = &sub;")
        out.append("\t\t\tswitch (tag) {")
        for f in tagged:
            out.append("\t\t\tcase %d:" % f.tag)
            out.append("\t\t\t\tif (%s) {" % vcond(intersect(f.tagged, f.versions)))
            out += decode_field(f, 5)
            out.append("\t\t\t\t}")
            out.append("\t\t\t\tbreak;")
        out.append("\t\t\tdefault:")
        out.append("\t\t\t\tbreak;")
        out.append("\t\t\t}")
        out.append("\t\t\tr = outer;")
        out.append("\t\t\tif (sub.err)")
        out.append("\t\t\t\tr->err = 1;")
    else:
        out.append("\t\t\t(void)tag;")
    out.append("\t\t}")
    out.append("\t}")
    out.append("\treturn r->err ? -1 : 0;")
    out.append("}")
    out.append("")


def emit_encode(out, m, s):
    out.append("void %s_encode(struct wbuf *w, int16_t version, const struct %s *m)" % (s.cname, s.cname))
    out.append("{")
    out.append("\tbool flex = %s;" % vcond(m.flex))
    out.append("\t(void)flex;")
    out.append("\t(void)m;")
    for f in s.fields:
        if f.tag is not None:
            continue
        out.append("\tif (%s) {" % vcond(f.versions))
        out += encode_field(f, 2)
        out.append("\t}")
    tagged = sorted([f for f in s.fields if f.tag is not None], key=lambda f: f.tag)
    out.append("\tif (flex) {")
    if tagged:
        out.append("\t\tuint32_t ntags = 0;")
        for f in tagged:
            out.append("\t\tbool has_%s = (%s) && !(%s);" % (f.c, vcond(intersect(f.tagged, f.versions)),
                                                         is_default_expr(f, "m->" + f.c)))
            out.append("\t\tntags += has_%s;" % f.c)
        out.append("\t\twbuf_uvarint(w, ntags);")
        for f in tagged:
            out.append("\t\tif (has_%s) {" % f.c)
            out.append("\t\t\tstruct wbuf tmp;")
            out.append("\t\t\twbuf_init(&tmp);")
            out.append("\t\t\t{")
            out.append("\t\t\t\tstruct wbuf *outer = w;")
            out.append("\t\t\t\tw = &tmp;")
            out += encode_field(f, 4)
            out.append("\t\t\t\tw = outer;")
            out.append("\t\t\t}")
            out.append("\t\t\twbuf_uvarint(w, %d);" % f.tag)
            out.append("\t\t\twbuf_uvarint(w, (uint32_t)tmp.len);")
            out.append("\t\t\twbuf_put(w, tmp.data, tmp.len);")
            out.append("\t\t\twbuf_free(&tmp);")
            out.append("\t\t}")
    else:
        out.append("\t\twbuf_uvarint(w, 0);")
    out.append("\t}")
    out.append("}")
    out.append("")


# ------------------------------------------------------------ test fill helpers

def fill_prim(f, target, ind, seed):
    t = "\t" * ind
    b = f.base
    if b == "bool":
        return [t + "%s = !(%s);" % (target, "true" if f.default == "true" else "false")]
    if b in ("int8", "int16", "uint16", "int32", "uint32", "int64"):
        ct = PRIMS[b]
        return [t + "%s = (%s)(%d + (int)(s %% 97));" % (target, ct, 11 + seed)]
    if b == "float64":
        return [t + "%s = 1.5 + (double)(s %% 7);" % target]
    if b == "uuid":
        return [t + "for (int k = 0; k < 16; k++)", t + "\t%s[k] = (uint8_t)(s + (unsigned)k + 1);" % target]
    if b == "string":
        return [t + "%s = proto_fill_string(a, s);" % target]
    if b in ("bytes", "records"):
        return [t + "%s = proto_fill_bytes(a, s);" % target]
    raise AssertionError(b)


def emit_fill(out, m, s):
    out.append("void %s_fill(struct %s *m, struct arena *a, int16_t version, unsigned s)" % (s.cname, s.cname))
    out.append("{")
    out.append("\t(void)a;")
    out.append("\t(void)version;")
    out.append("\t(void)s;")
    out.append("\t%s_init(m);" % s.cname)
    for i, f in enumerate(s.fields):
        ref = "m->" + f.c
        rng = intersect(f.tagged, f.versions) if f.tag is not None else f.versions
        out.append("\tif (%s) {" % vcond(rng))
        if f.array:
            out.append("\t\t%s_count = 2;" % ref)
            if f.is_struct:
                et = "struct %s" % f.struct.cname
            elif f.base == "uuid":
                et = "uint8_t[16]"
            else:
                et = PRIMS[f.base]
            out.append("\t\t%s = arena_alloc(a, sizeof(%s) * 2);" % (ref, et))
            out.append("\t\tfor (int32_t i = 0; i < 2; i++) {")
            if f.is_struct:
                out.append("\t\t\t%s_fill(&%s[i], a, version, s + (unsigned)i + %d);" % (f.struct.cname, ref, i))
            else:
                out += fill_prim(f, "%s[i]" % ref, 3, i)
            out.append("\t\t}")
        elif f.is_struct:
            out.append("\t\t%s_fill(&%s, a, version, s + %d);" % (f.struct.cname, ref, i))
        else:
            out += fill_prim(f, ref, 2, i)
        out.append("\t}")
    out.append("}")
    out.append("")


# ------------------------------------------------------- API keys, error codes

def api_name(req):
    return re.sub("Request$", "", req.name)


def api_const(key, apis):
    return "API_" + snake(api_name(apis[key]["request"])).upper()


def check_errors(errors):
    if not errors:
        raise SchemaError("no error codes (src/proto/schema/errors.schema)")
    seen_code, seen_name = {}, {}
    for e in errors:
        if e.code in seen_code:
            raise SchemaError("error code %d given twice (%s, %s)" % (e.code, seen_code[e.code], e.name))
        if e.name in seen_name:
            raise SchemaError("error %s given twice" % e.name)
        seen_code[e.code] = e.name
        seen_name[e.name] = e.code
        if not -32768 <= e.code <= 32767:
            raise SchemaError("error %s: code %d is not an int16" % (e.name, e.code))


def emit_constants(apis, errors):
    errors = sorted(errors, key=lambda e: e.code)
    h = ["/* Generated by src/proto/gen.py from src/proto/schema; do not edit. */",
         "/* The API keys [Kafka's ApiKeys] and error codes [Kafka's Errors]: every one",
         " * the project knows is defined here and nowhere else. */",
         "#ifndef SAMSA_PROTO_GEN_CONSTANTS_H", "#define SAMSA_PROTO_GEN_CONSTANTS_H", "",
         "#include <stdbool.h>", "#include <stdint.h>", "",
         "/* One per API with a schema. */", "enum api_key {"]
    for key in sorted(apis):
        h.append("\t%s = %d," % (api_const(key, apis), key))
    h += ["};", "",
          "/* Kafka's name of an API (\"ApiVersions\"); NULL for a key without a schema. */",
          "const char *api_key_name(int16_t key);", "",
          "enum kafka_error {"]
    for e in errors:
        h.append("\tKERR_%s = %d," % (e.name, e.code))
    h += ["};", "",
          "/* Kafka's upper-case name of a code (\"UNKNOWN_TOPIC_OR_PARTITION\"); \"UNKNOWN_ERROR_CODE\" otherwise. */",
          "const char *kafka_error_name(int16_t code);",
          "/* Whether clients treat the code as retriable. */",
          "bool kafka_error_retriable(int16_t code);",
          "/* Kafka's default text for the code where the schema gives one, else \"\". */",
          "const char *kafka_error_message(int16_t code);", "",
          "#endif", ""]

    c = ["/* Generated by src/proto/gen.py from src/proto/schema; do not edit. */",
         '#include "proto/gen/constants.h"', "", "#include <stddef.h>", "",
         "const char *api_key_name(int16_t key)", "{", "\tswitch (key) {"]
    for key in sorted(apis):
        c.append('\tcase %s: return "%s";' % (api_const(key, apis), api_name(apis[key]["request"])))
    c += ["\tdefault: return NULL;", "\t}", "}", "",
          "struct kerr_info {", "\tconst char *name;", "\tconst char *message;", "\tbool retriable;", "};", "",
          "static const struct kerr_info *kerr_info(int16_t code)", "{",
          "\tstatic const struct kerr_info infos[] = {"]
    for e in errors:
        c.append('\t\t{ "%s", %s, %s }, /* %d */' % (e.name, c_string_literal(e.message),
                                                     "true" if e.retriable else "false", e.code))
    c += ["\t};", "\tswitch (code) {"]
    for i, e in enumerate(errors):
        c.append("\tcase KERR_%s: return &infos[%d];" % (e.name, i))
    c += ["\tdefault: return NULL;", "\t}", "}", "",
          "const char *kafka_error_name(int16_t code)", "{",
          "\tconst struct kerr_info *e = kerr_info(code);",
          '\treturn e ? e->name : "UNKNOWN_ERROR_CODE";', "}", "",
          "bool kafka_error_retriable(int16_t code)", "{",
          "\tconst struct kerr_info *e = kerr_info(code);", "\treturn e && e->retriable;", "}", "",
          "const char *kafka_error_message(int16_t code)", "{",
          "\tconst struct kerr_info *e = kerr_info(code);", '\treturn e ? e->message : "";', "}", ""]
    return h, c


# ------------------------------------------------------------------ the files

def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sdir, odir = sys.argv[1], sys.argv[2]
    msgs = []
    errors = []
    for root, dirs, files in os.walk(sdir):
        dirs.sort()
        for fn in sorted(files):
            if fn.endswith(".schema"):
                msgs += parse_file(os.path.join(root, fn), errors)
    msgs.sort(key=lambda m: (m.key if m.key is not None else 1000, m.kind, m.name))
    os.makedirs(odir, exist_ok=True)

    apis = {}
    for m in msgs:
        if m.key is None:
            continue
        a = apis.setdefault(m.key, {})
        if m.kind in a:
            raise SchemaError("two %ss with key %d: %s and %s" % (m.kind, m.key, a[m.kind].name, m.name))
        a[m.kind] = m
    for key in sorted(apis):
        if set(apis[key]) != {"request", "response"}:
            raise SchemaError("API key %d needs one request and one response" % key)
    check_errors(errors)
    ch, cc = emit_constants(apis, errors)

    h = ["/* Generated by src/proto/gen.py from src/proto/schema; do not edit. */",
         "#ifndef SAMSA_PROTO_GEN_MESSAGES_H", "#define SAMSA_PROTO_GEN_MESSAGES_H", "",
         "#include <stdbool.h>", "#include <stddef.h>", "#include <stdint.h>", "",
         '#include "proto/gen/constants.h"', '#include "samsa/util/arena.h"', '#include "samsa/util/buf.h"', "",
         "#define PROTO_LISTENER_ZK_BROKER 1u", "#define PROTO_LISTENER_BROKER 2u",
         "#define PROTO_LISTENER_CONTROLLER 4u", "",
         "struct proto_api {", "\tint16_t key;", "\tconst char *name;", "\tint16_t min_version;",
         "\tint16_t max_version;", "\tint16_t flexible_from; /* -1: never flexible */",
         "\tunsigned listeners;", "};", "",
         "/* NULL for an API key we have no schema for. */",
         "const struct proto_api *proto_api_get(int16_t key);",
         "const struct proto_api *proto_api_list(size_t *n);", "",
         "/* Generic codec by API key; decode allocates the struct in the arena. Return 0 or -1. */",
         "int proto_request_decode(int16_t key, int16_t version, struct rd *r, struct arena *a, void **out);",
         "int proto_response_decode(int16_t key, int16_t version, struct rd *r, struct arena *a, void **out);",
         "int proto_request_encode(int16_t key, int16_t version, struct wbuf *w, const void *msg);",
         "int proto_response_encode(int16_t key, int16_t version, struct wbuf *w, const void *msg);", "",
         "/* Per-message operations, for tests and tools that walk every message. */",
         "struct proto_msg_ops {", "\tconst char *name;", "\tint16_t key; /* -1 for data schemas */",
         "\tint is_response;", "\tint16_t min_version, max_version;", "\tsize_t size;",
         "\tvoid (*init)(void *m);",
         "\tint (*decode)(struct rd *r, struct arena *a, int16_t version, void *m);",
         "\tvoid (*encode)(struct wbuf *w, int16_t version, const void *m);",
         "\tvoid (*fill)(void *m, struct arena *a, int16_t version, unsigned seed); /* messages_fill.c */",
         "};", "extern const struct proto_msg_ops proto_msgs[];", "extern const size_t proto_msgs_count;", ""]
    for m in msgs:
        for s in m.structs:
            h.append("struct %s {" % s.cname)
            if not s.fields:
                h.append("\tchar unused_;")
            for f in s.fields:
                for d in member_decl(f):
                    h.append("\t" + d)
            h.append("};")
            h.append("")
    for m in msgs:
        for s in m.structs:
            h.append("void %s_init(struct %s *m);" % (s.cname, s.cname))
            h.append("int %s_decode(struct rd *r, struct arena *a, int16_t version, struct %s *m);" % (s.cname, s.cname))
            h.append("void %s_encode(struct wbuf *w, int16_t version, const struct %s *m);" % (s.cname, s.cname))
            h.append("void %s_fill(struct %s *m, struct arena *a, int16_t version, unsigned s);" % (s.cname, s.cname))
    h += ["", "#endif", ""]

    c = ["/* Generated by src/proto/gen.py from src/proto/schema; do not edit. */",
         '#include "proto/gen/messages.h"', "", "#include <string.h>", "",
         "static const uint8_t proto_empty[1];", "",
         "static inline bool proto_kstr_is(struct kstr s, const char *lit)", "{",
         "\tsize_t n = strlen(lit);", "\treturn s.ptr && (size_t)s.len == n && memcmp(s.ptr, lit, n) == 0;", "}", "",
         "static inline bool proto_uuid_is_zero(const uint8_t *u)", "{",
         "\tfor (int i = 0; i < 16; i++)", "\t\tif (u[i])", "\t\t\treturn false;", "\treturn true;", "}", "",
         "static inline void proto_write_string(struct wbuf *w, bool flex, struct kstr s)", "{",
         "\tif (flex)", "\t\twbuf_compact_string(w, s);", "\telse", "\t\twbuf_string(w, s);", "}", "",
         "static inline void proto_write_bytes(struct wbuf *w, bool flex, struct kbytes b)", "{",
         "\tif (flex)", "\t\twbuf_compact_bytes(w, b);", "\telse", "\t\twbuf_bytes(w, b);", "}", ""]
    # forward declarations of is_default for nested use
    for m in msgs:
        for s in m.structs:
            c.append("static bool %s_is_default(const struct %s *m) __attribute__((unused));" % (s.cname, s.cname))
    c.append("")
    for m in msgs:
        for s in m.structs:
            emit_init(c, s)
            emit_is_default(c, s)
            emit_decode(c, m, s)
            emit_encode(c, m, s)

    c.append("static const struct proto_api apis[] = {")
    for key in sorted(apis):
        req = apis[key]["request"]
        lst = []
        for l, bit in (("zkBroker", "PROTO_LISTENER_ZK_BROKER"), ("broker", "PROTO_LISTENER_BROKER"),
                       ("controller", "PROTO_LISTENER_CONTROLLER")):
            if l in req.listeners:
                lst.append(bit)
        name = api_name(req)
        flex = req.flex[0] if req.flex[0] <= req.flex[1] else -1
        c.append('\t{ %s, "%s", %d, %d, %d, %s },' % (api_const(key, apis), name, req.versions[0], req.versions[1], flex,
                                                      " | ".join(lst) or "0"))
    c.append("};")
    c.append("")
    c.append("const struct proto_api *proto_api_get(int16_t key)")
    c.append("{")
    c.append("\tfor (size_t i = 0; i < sizeof apis / sizeof apis[0]; i++)")
    c.append("\t\tif (apis[i].key == key)")
    c.append("\t\t\treturn &apis[i];")
    c.append("\treturn NULL;")
    c.append("}")
    c.append("")
    c.append("const struct proto_api *proto_api_list(size_t *n)")
    c.append("{")
    c.append("\t*n = sizeof apis / sizeof apis[0];")
    c.append("\treturn apis;")
    c.append("}")
    c.append("")
    for kind in ("request", "response"):
        c.append("int proto_%s_decode(int16_t key, int16_t version, struct rd *r, struct arena *a, void **out)" % kind)
        c.append("{")
        c.append("\tswitch (key) {")
        for key in sorted(apis):
            m = apis[key][kind]
            c.append("\tcase %s: {" % api_const(key, apis))
            c.append("\t\tstruct %s *m = arena_alloc(a, sizeof *m);" % m.c)
            c.append("\t\t*out = m;")
            c.append("\t\treturn %s_decode(r, a, version, m);" % m.c)
            c.append("\t}")
        c.append("\tdefault:")
        c.append("\t\treturn -1;")
        c.append("\t}")
        c.append("}")
        c.append("")
        c.append("int proto_%s_encode(int16_t key, int16_t version, struct wbuf *w, const void *msg)" % kind)
        c.append("{")
        c.append("\tswitch (key) {")
        for key in sorted(apis):
            m = apis[key][kind]
            c.append("\tcase %s:" % api_const(key, apis))
            c.append("\t\t%s_encode(w, version, msg);" % m.c)
            c.append("\t\treturn 0;")
        c.append("\tdefault:")
        c.append("\t\treturn -1;")
        c.append("\t}")
        c.append("}")
        c.append("")
    # ops table
    for m in msgs:
        s = m.root
        c.append("static void ops_init_%s(void *m) { %s_init(m); }" % (m.c, m.c))
        c.append("static int ops_decode_%s(struct rd *r, struct arena *a, int16_t v, void *m) { return %s_decode(r, a, v, m); }" % (m.c, m.c))
        c.append("static void ops_encode_%s(struct wbuf *w, int16_t v, const void *m) { %s_encode(w, v, m); }" % (m.c, m.c))
        c.append("static void ops_fill_%s(void *m, struct arena *a, int16_t v, unsigned s) { %s_fill(m, a, v, s); }" % (m.c, m.c))
    c.append("")
    c.append("const struct proto_msg_ops proto_msgs[] = {")
    for m in msgs:
        c.append('\t{ "%s", %s, %d, %d, %d, sizeof(struct %s), ops_init_%s, ops_decode_%s, ops_encode_%s, ops_fill_%s },'
                 % (m.name, api_const(m.key, apis) if m.key is not None else "-1", 1 if m.kind == "response" else 0,
                    m.versions[0], m.versions[1], m.c, m.c, m.c, m.c, m.c))
    c.append("};")
    c.append("const size_t proto_msgs_count = sizeof proto_msgs / sizeof proto_msgs[0];")
    c.append("")

    fc = ["/* Generated by src/proto/gen.py: fills every field present at a version with",
          " * non-default values, for round-trip tests. Do not edit. */",
          '#include "proto/gen/messages.h"', "", "#include <stdio.h>", "#include <string.h>", "",
          "static struct kstr proto_fill_string(struct arena *a, unsigned s)", "{",
          "\tchar *p = arena_alloc(a, 24);", "\tint n = snprintf(p, 24, \"v%u\", s);",
          "\treturn (struct kstr){ p, n };", "}", "",
          "static struct kbytes proto_fill_bytes(struct arena *a, unsigned s)", "{",
          "\tuint8_t *p = arena_alloc(a, 5);", "\tfor (int i = 0; i < 5; i++)",
          "\t\tp[i] = (uint8_t)(s * 7u + (unsigned)i);", "\treturn (struct kbytes){ p, 5 };", "}", ""]
    for m in msgs:
        for s in m.structs:
            emit_fill(fc, m, s)

    def write(name, lines):
        path = os.path.join(odir, name)
        text = "\n".join(lines)
        if os.path.exists(path) and open(path).read() == text:
            return
        with open(path + ".tmp", "w") as f:
            f.write(text)
        os.replace(path + ".tmp", path)

    write("constants.h", ch)
    write("constants.c", cc)
    write("messages.h", h)
    write("messages.c", c)
    write("messages_fill.c", fc)


if __name__ == "__main__":
    try:
        main()
    except SchemaError as e:
        sys.exit("gen.py: %s" % e)
