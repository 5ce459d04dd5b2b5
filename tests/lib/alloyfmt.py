#!/usr/bin/env python3
"""alloyfmt.py - what `alloy fmt -t` would say about an Alloy config file.

    alloyfmt.py [--syntax] FILE
    alloyfmt.py --labels FILE

--labels prints the stream labels the journal pipeline sets, one a line:
"static NAME=VALUE" for each key of a loki.source.journal's labels,
"rule SOURCE -> TARGET" for each replace rule of the loki.relabel blocks
and "keep SOURCE REGEX" for each keep rule, in file order.

Tests cannot run the real alloy, so this re-implements the part of it that
matters for the files alloy-journal-loki-configure writes:

- the syntax, as Alloy's parser reads it (alloy-upstream.md: Alloy 1.18):
  `true`, `false` and `null` are keywords, so a bare one as an object key is
  refused ("expected field name (string or identifier), got BOOL"), as is
  one as an attribute name; strings, raw strings, comments, blocks with
  dotted names and a string label, arrays, objects, calls, operators;
  statements one a line; a bracket closing on a later line than the last
  element needs a trailing comma;
- the layout `alloy fmt` prints (its syntax/printer): the same walk over
  the tree, the same whitespace buffer and comment placement, and the same
  elastic tabstops (Go's text/tabwriter with minwidth 0, tabwidth 8,
  padding 1, padchar ' ', TabIndent and DiscardEmptyColumns): tabs indent,
  "=" of consecutive one-line attributes aligned with spaces, a blank line
  between blocks, at most one blank line kept, a newline at the end.

Exit status 0: the file parses and is in `alloy fmt` layout (with --syntax:
it parses); 1: a syntax error, or the layout differs (a unified diff
against the layout alloy fmt prints is shown); 64: usage.
"""
import difflib
import json
import sys

KEYWORDS = {"true": "BOOL", "false": "BOOL", "null": "NULL"}
PUNCT = ["==", "!=", "<=", ">=", "&&", "||", "{", "}", "[", "]", "(", ")",
         ",", ".", "=", "<", ">", "+", "-", "*", "/", "%", "^", "!"]
BINARY = {"||": 1, "&&": 2, "==": 3, "!=": 3, "<": 3, "<=": 3, ">": 3,
          ">=": 3, "+": 4, "-": 4, "*": 5, "/": 5, "%": 5, "^": 6}


class SyntaxErr(Exception):
    def __init__(self, tok, msg):
        super().__init__(msg)
        self.line, self.col, self.msg = tok.line, tok.col, msg


class Tok:
    def __init__(self, kind, text, off, line, col):
        self.kind, self.text, self.off, self.line, self.col = kind, text, off, line, col
        self.end_line = line + text.count("\n")

    def name(self):
        return {"IDENT": "identifier", "STRING": "string"}.get(self.kind, self.kind)

    def __repr__(self):
        return "%s(%r)@%d:%d" % (self.kind, self.text, self.line, self.col)


def lex(src):
    """Tokens and comments (both Toks), with offsets and 1-based lines."""
    toks, comments = [], []
    i, line, bol = 0, 1, 0
    n = len(src)
    while i < n:
        c = src[i]
        col = i - bol + 1
        if c == "\n":
            line += 1
            bol = i + 1
            i += 1
        elif c in " \t\r":
            i += 1
        elif src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            comments.append(Tok("COMMENT", src[i:j], i, line, col))
            i = j
        elif src.startswith("/*", i):
            j = src.find("*/", i + 2)
            if j < 0:
                raise SyntaxErr(Tok("", "", i, line, col), "comment not terminated")
            t = Tok("COMMENT", src[i:j + 2], i, line, col)
            comments.append(t)
            line = t.end_line
            if "\n" in t.text:
                bol = i + t.text.rindex("\n") + 1
            i = j + 2
        elif c == '"':
            j = i + 1
            while j < n and src[j] != '"':
                if src[j] == "\n":
                    raise SyntaxErr(Tok("", "", i, line, col), "string literal not terminated")
                j += 2 if src[j] == "\\" else 1
            if j >= n:
                raise SyntaxErr(Tok("", "", i, line, col), "string literal not terminated")
            toks.append(Tok("STRING", src[i:j + 1], i, line, col))
            i = j + 1
        elif c == "`":
            j = src.find("`", i + 1)
            if j < 0:
                raise SyntaxErr(Tok("", "", i, line, col), "raw string literal not terminated")
            t = Tok("STRING", src[i:j + 1], i, line, col)
            toks.append(t)
            if "\n" in t.text:
                line = t.end_line
                bol = i + t.text.rindex("\n") + 1
            i = j + 1
        elif c.isalpha() or c == "_":
            j = i
            while j < n and (src[j].isalnum() or src[j] == "_"):
                j += 1
            word = src[i:j]
            toks.append(Tok(KEYWORDS.get(word, "IDENT"), word, i, line, col))
            i = j
        elif c.isdigit():
            j = i
            while j < n and (src[j].isalnum() or src[j] in "._"):
                j += 1
            toks.append(Tok("NUMBER", src[i:j], i, line, col))
            i = j
        else:
            for p in PUNCT:
                if src.startswith(p, i):
                    toks.append(Tok(p, p, i, line, col))
                    i += len(p)
                    break
            else:
                raise SyntaxErr(Tok("", "", i, line, col), "illegal character %r" % c)
    toks.append(Tok("EOF", "", n, line, n - bol + 1))
    return toks, comments


# --- parser ---------------------------------------------------------------
# Nodes are dicts with a "t" (type); first()/last() give their first and
# last token, which is all the printer needs of positions.

class Parser:
    def __init__(self, toks):
        self.toks, self.i = toks, 0

    def peek(self):
        return self.toks[self.i]

    def next(self):
        t = self.toks[self.i]
        self.i += 1
        return t

    def expect(self, kind, what=None):
        t = self.next()
        if t.kind != kind:
            raise SyntaxErr(t, "expected %s, got %s" % (what or kind, t.name()))
        return t

    def body(self, closing):
        stmts = []
        while self.peek().kind not in ("EOF", "}"):
            s = self.stmt()
            nxt = self.peek()
            if nxt.kind not in ("EOF", "}") and nxt.line == last(s).end_line:
                raise SyntaxErr(nxt, "expected a newline after the statement, got %s" % nxt.name())
            stmts.append(s)
        if self.peek().kind != closing:
            t = self.peek()
            raise SyntaxErr(t, "expected %s, got %s" % ("end of file" if closing == "EOF" else closing, t.name()))
        return stmts

    def stmt(self):
        t = self.next()
        if t.kind != "IDENT":
            raise SyntaxErr(t, "expected identifier, got %s" % t.name())
        if self.peek().kind == "=":
            assign = self.next()
            return {"t": "attr", "name": t, "assign": assign, "value": self.expr()}
        names = [t]
        while self.peek().kind == ".":
            self.next()
            names.append(self.expect("IDENT", "identifier"))
        label = None
        if self.peek().kind == "STRING":
            label = self.next()
            if label.text.startswith("`"):
                raise SyntaxErr(label, "expected block label to be a double quoted string, but got %s" % label.text)
        lc = self.expect("{", "{")
        body = self.body("}")
        rc = self.next()
        return {"t": "block", "names": names, "label": label, "lc": lc, "body": body, "rc": rc}

    def expr(self, prec=1):
        left = self.unary()
        while self.peek().kind in BINARY and BINARY[self.peek().kind] >= prec:
            op = self.next()
            p = BINARY[op.kind]
            right = self.expr(p if op.kind == "^" else p + 1)
            left = {"t": "binary", "left": left, "op": op, "right": right}
        return left

    def unary(self):
        if self.peek().kind in ("!", "-"):
            op = self.next()
            return {"t": "unary", "op": op, "value": self.unary()}
        return self.postfix(self.primary())

    def primary(self):
        t = self.next()
        if t.kind in ("STRING", "NUMBER", "BOOL", "NULL"):
            return {"t": "lit", "tok": t}
        if t.kind == "IDENT":
            return {"t": "ident", "tok": t}
        if t.kind == "(":
            inner = self.expr()
            return {"t": "paren", "lp": t, "inner": inner, "rp": self.expect(")", ")")}
        if t.kind == "[":
            elems = self.items("]", "array", self.expr)
            return {"t": "array", "lb": t, "elems": elems, "rb": self.next()}
        if t.kind == "{":
            fields = self.items("}", "object", self.field)
            return {"t": "object", "lc": t, "fields": fields, "rc": self.next()}
        raise SyntaxErr(t, "expected expression, got %s" % t.name())

    def field(self):
        k = self.next()
        if k.kind not in ("IDENT", "STRING"):
            raise SyntaxErr(k, "expected field name (string or identifier), got %s" % k.name())
        if k.text.startswith("`"):
            raise SyntaxErr(k, "expected field name (string or identifier), got raw string")
        self.expect("=", "=")
        return {"t": "field", "key": k, "value": self.expr()}

    # items CLOSE WHAT PARSE: elements separated by commas up to CLOSE (not
    # consumed); a newline before CLOSE needs a trailing comma.
    def items(self, close, what, parse):
        out = []
        while self.peek().kind != close:
            out.append(parse())
            nxt = self.peek()
            if nxt.kind == ",":
                self.next()
            elif nxt.kind != close:
                raise SyntaxErr(nxt, "expected , or %s in %s, got %s" % (close, what, nxt.name()))
            elif nxt.line != last(out[-1]).end_line:
                raise SyntaxErr(nxt, "missing ',' in %s before a newline" % what)
        return out

    def postfix(self, e):
        while True:
            k = self.peek().kind
            if k == ".":
                dot = self.next()
                e = {"t": "access", "value": e, "dot": dot, "name": self.expect("IDENT", "identifier")}
            elif k == "[":
                lb = self.next()
                idx = self.expr()
                e = {"t": "index", "value": e, "lb": lb, "index": idx, "rb": self.expect("]", "]")}
            elif k == "(":
                lp = self.next()
                args = self.items(")", "call", self.expr)
                e = {"t": "call", "value": e, "lp": lp, "args": args, "rp": self.next()}
            else:
                return e


def first(n):
    t = n["t"]
    if t == "attr":
        return n["name"]
    if t == "block":
        return n["names"][0]
    if t in ("lit", "ident"):
        return n["tok"]
    if t in ("access", "index", "call"):
        return first(n["value"])
    if t == "binary":
        return first(n["left"])
    if t == "unary":
        return n["op"]
    if t == "field":
        return n["key"]
    return n[{"paren": "lp", "array": "lb", "object": "lc"}[t]]


def last(n):
    t = n["t"]
    if t in ("attr", "unary", "field"):
        return last(n["value"])
    if t in ("lit", "ident"):
        return n["tok"]
    if t == "access":
        return n["name"]
    if t == "binary":
        return last(n["right"])
    return n[{"block": "rc", "paren": "rp", "array": "rb", "object": "rc",
              "index": "rb", "call": "rp"}[t]]


def node_lines(n):
    return last(n).end_line - first(n).line + 1


# --- printer --------------------------------------------------------------
# The output is a list of chunks for the tabwriter: text, or one of the
# control characters \t (indent), \v (align), \n, \f (newline, and the end
# of every column block).

BLANK, VTAB, NEWLINE, FORMFEED, INDENT, UNINDENT, IGNORE = " ", "\v", "\n", "\f", ">", "<", None


class Printer:
    def __init__(self, comments):
        self.out = []
        self.indent = 0
        self.ws = []
        self.comments = comments
        self.ci = 0
        self.col1 = True        # nothing written on the current output line yet
        self.last_line = 1      # source line where the last text ended
        self.cur_line = 1       # source line of the position being written
        self.cur_off = 0

    def emit(self, s):
        if self.col1:
            self.out.extend(["\t"] * self.indent)
            self.col1 = False
        self.out.append(s)

    def byte(self, ch, n=1):
        if self.col1:
            self.out.extend(["\t"] * self.indent)
        for _ in range(n):
            self.out.append(ch)
        if ch in "\n\f":
            self.col1 = True
            self.cur_line += n
        else:
            self.col1 = False

    def write_ws(self, n):
        for ch in self.ws[:n]:
            if ch is IGNORE:
                continue
            if ch == INDENT:
                self.indent += 1
            elif ch == UNINDENT:
                self.indent -= 1
            else:
                self.byte(ch)
        self.ws = self.ws[n:]

    def w(self, *args):
        """Whitespace constants, or a (Tok or None, text) pair to write."""
        for a in args:
            if a in (BLANK, VTAB, NEWLINE, FORMFEED, INDENT, UNINDENT):
                self.ws.append(a)
                continue
            tok, text = a
            if tok is not None:
                self.cur_line, self.cur_off = tok.line, tok.off
            self.flush(self.cur_off, self.cur_line)
            self.text(text, tok)

    def text(self, text, tok=None):
        self.emit(text)
        if tok is not None:
            self.cur_line, self.cur_off = tok.end_line, tok.off + len(tok.text)
        else:
            self.cur_off += len(text)
        self.last_line = self.cur_line

    def comment_before(self, off):
        return self.ci < len(self.comments) and self.comments[self.ci].off <= off

    def flush(self, off, line, eof=False):
        if not self.comment_before(off):
            if not eof:
                self.write_ws(len(self.ws))
            return
        lastc = None
        while self.comment_before(off):
            c = self.comments[self.ci]
            self.ci += 1
            self.comment_prefix(c, line)
            self.cur_line, self.cur_off = c.line, c.off
            self.text(c.text, c)
            lastc = c
        if eof:
            return
        self.comment_suffix(lastc, line)

    def comment_prefix(self, c, next_line):
        if not self.out:
            return
        if c.line == self.last_line:
            self.byte(" " if c.line == next_line else "\t")
            return
        count = 0
        for i, ch in enumerate(self.ws):
            if ch in (INDENT, UNINDENT):
                continue
            if ch is not IGNORE:
                self.ws[i] = IGNORE
            count = i
            break
        self.write_ws(count)
        newlines = c.line - self.last_line
        if newlines > 0:
            self.byte("\f", min(newlines, 2))

    def comment_suffix(self, c, next_line):
        if c.text.startswith("/*") and next_line == c.end_line:
            self.byte(" ")
        dropped_ff = False
        for i, ch in enumerate(self.ws):
            if ch in (BLANK, VTAB, NEWLINE, FORMFEED):
                dropped_ff = dropped_ff or ch == FORMFEED
                self.ws[i] = IGNORE
        self.write_ws(len(self.ws))
        newlines = next_line - self.last_line
        if newlines > 0:
            self.byte("\f" if dropped_ff else "\n", min(newlines, 2))

    # The walk: the same decisions as alloy's syntax/printer/walker.go.
    def stmts(self, ss):
        for i, s in enumerate(ss):
            spaced = False
            if i > 0 and s["t"] == "block":
                self.w(FORMFEED)
                spaced = True
            if i > 0 and not spaced and first(s).line - last(ss[i - 1]).end_line > 1:
                self.w(FORMFEED)
            self.stmt(s)
            self.w(FORMFEED if node_lines(s) > 1 else NEWLINE)

    def stmt(self, s):
        if s["t"] == "attr":
            self.w((s["name"], s["name"].text), VTAB, (s["assign"], "="), BLANK)
            self.expr(s["value"])
            return
        self.w((s["names"][0], ".".join(t.text for t in s["names"])))
        if s["label"] is not None:
            self.w(BLANK, (s["label"], s["label"].text))
        self.w(BLANK, (s["lc"], "{"), INDENT)
        if s["body"]:
            self.w(FORMFEED)
            self.stmts(s["body"])
        else:
            self.w(BLANK)
        self.w(UNINDENT, (s["rc"], "}"))

    def expr(self, e):
        t = e["t"]
        if t in ("lit", "ident"):
            self.w((e["tok"], e["tok"].text))
        elif t == "access":
            self.expr(e["value"])
            self.w((e["dot"], "."), (e["name"], e["name"].text))
        elif t == "index":
            self.expr(e["value"])
            self.w((e["lb"], "["))
            self.expr(e["index"])
            self.w((e["rb"], "]"))
        elif t == "unary":
            self.w((e["op"], e["op"].text))
            self.expr(e["value"])
        elif t == "binary":
            self.expr(e["left"])
            self.w(BLANK, (e["op"], e["op"].text), BLANK)
            self.expr(e["right"])
        elif t == "paren":
            self.w((e["lp"], "("))
            self.expr(e["inner"])
            self.w((e["rp"], ")"))
        elif t == "array":
            self.array(e)
        elif t == "object":
            self.object(e)
        elif t == "call":
            self.call(e)

    def array(self, e):
        self.w((e["lb"], "["))
        prev = e["lb"].end_line
        for i, el in enumerate(e["elems"]):
            newline = False
            if prev != first(el).line:
                self.w(INDENT, FORMFEED)
                newline = True
            elif i > 0:
                self.w(BLANK)
            prev = last(el).end_line
            self.expr(el)
            if i + 1 < len(e["elems"]):
                self.w((None, ","))
            if newline:
                self.w(UNINDENT)
        suffix = False
        if e["elems"] and prev != e["rb"].line:
            self.w((None, ","), INDENT, FORMFEED)
            suffix = True
        if suffix:
            self.w(UNINDENT)
        self.w((e["rb"], "]"))

    def object(self, e):
        self.w((e["lc"], "{"), INDENT)
        prev = e["lc"].end_line
        fields = e["fields"]
        for i, f in enumerate(fields):
            if prev != f["key"].line:
                if i > 0 and node_lines(fields[i - 1]["value"]) == 1:
                    self.w(NEWLINE)
                else:
                    self.w(FORMFEED)
            elif i > 0:
                self.w(BLANK)
            prev = f["key"].end_line
            self.w((f["key"], f["key"].text), VTAB, (None, "="), BLANK)
            self.expr(f["value"])
            if i + 1 < len(fields):
                self.w((None, ","))
        if fields and prev != e["rc"].line:
            self.w((None, ","), FORMFEED)
        self.w(UNINDENT, (e["rc"], "}"))

    def call(self, e):
        self.expr(e["value"])
        self.w((e["lp"], "("))
        prev = e["lp"].end_line
        for i, a in enumerate(e["args"]):
            newline = False
            if prev != first(a).line:
                self.w(FORMFEED, INDENT)
                newline = True
            self.expr(a)
            prev = last(a).end_line
            if i + 1 < len(e["args"]):
                self.w((None, ","), BLANK)
            if newline:
                self.w(UNINDENT)
        if prev != e["rp"].line:
            self.w((None, ","), FORMFEED)
        self.w((e["rp"], ")"))


def tabwriter(chunks):
    """Go's text/tabwriter (minwidth 0, tabwidth 8, padding 1, padchar ' ',
    TabIndent | DiscardEmptyColumns) over text chunks and \\t \\v \\n \\f."""
    out = []
    lines = [[]]     # each line: cells (text, terminated_by_tab); last cell open
    cell = []

    def end_cell(htab):
        lines[-1].append(("".join(cell), htab))
        cell.clear()

    def write_lines(ls, widths):
        for i, line in enumerate(ls):
            use_tabs = True
            for j, (text, _htab) in enumerate(line):
                if text == "":
                    if j < len(widths):
                        pad(0, widths[j], use_tabs)
                else:
                    use_tabs = False
                    out.append(text)
                    if j < len(widths):
                        pad(len(text), widths[j], False)
            out.append("\n")

    def pad(textw, cellw, use_tabs):
        if use_tabs:
            cellw = (cellw + 7) // 8 * 8
            out.append("\t" * ((cellw - textw + 7) // 8))
        else:
            out.append(" " * (cellw - textw))

    def fmt(ls, widths):
        column = len(widths)
        line0 = 0
        this = 0
        while this < len(ls):
            if column >= len(ls[this]) - 1:
                this += 1
                continue
            write_lines(ls[line0:this], widths)
            line0 = this
            width, discardable = 0, True
            while this < len(ls) and column < len(ls[this]) - 1:
                text, htab = ls[this][column]
                width = max(width, len(text) + 1)
                if text or htab:
                    discardable = False
                this += 1
            if discardable:
                width = 0
            fmt(ls[line0:this], widths + [width])
            line0 = this
        write_lines(ls[line0:], widths)

    def flush():
        done = lines[:-1]
        if done:
            fmt(done, [])
        del lines[:-1]

    for ch in chunks:
        if ch in ("\t", "\v"):
            end_cell(ch == "\t")
        elif ch in ("\n", "\f"):
            end_cell(False)
            ncells = len(lines[-1])
            lines.append([])
            if ch == "\f" or ncells == 1:
                flush()
        else:
            cell.append(ch)
    end_cell(False)
    flush()
    tail = lines[-1]
    out.append("".join(t for t, _ in tail))
    # The printer's trimmer: no blanks or tabs at the end of a line.
    return "\n".join(l.rstrip(" \t") for l in "".join(out).split("\n"))


def alloy_fmt(src):
    toks, comments = lex(src)
    stmts = Parser(toks).body("EOF")
    p = Printer(comments)
    p.stmts(stmts)
    eof = toks[-1]
    p.flush(eof.off, eof.line, eof=True)
    return tabwriter(p.out) + "\n"


def value(e):
    """A literal, an array or an object as Python data; other expressions
    as their source text."""
    t = e["t"]
    if t == "lit" and e["tok"].kind == "STRING":
        s = e["tok"].text
        return s[1:-1] if s.startswith("`") else json.loads(s)
    if t == "array":
        return [value(x) for x in e["elems"]]
    if t == "object":
        return [(value({"t": "lit", "tok": f["key"]}) if f["key"].kind == "STRING" else f["key"].text,
                 value(f["value"])) for f in e["fields"]]
    return first(e).text if first(e) is last(e) else None


def labels(stmts):
    out = []
    for b in stmts:
        if b["t"] != "block":
            continue
        name = ".".join(t.text for t in b["names"])
        attrs = {s["name"].text: value(s["value"]) for s in b["body"] if s["t"] == "attr"}
        if name == "loki.source.journal":
            for k, v in attrs.get("labels") or []:
                out.append("static %s=%s" % (k, v))
        if name == "loki.relabel":
            for r in b["body"]:
                if r["t"] != "block" or r["names"][0].text != "rule":
                    continue
                a = {s["name"].text: value(s["value"]) for s in r["body"] if s["t"] == "attr"}
                src = ",".join(a.get("source_labels") or [])
                if a.get("action", "replace") == "replace":
                    out.append("rule %s -> %s" % (src, a.get("target_label")))
                else:
                    out.append("%s %s %s" % (a["action"], src, a.get("regex")))
    return out


def main(argv):
    args = argv[1:]
    syntax_only = show_labels = False
    if args and args[0] == "--syntax":
        syntax_only = True
        args = args[1:]
    elif args and args[0] == "--labels":
        show_labels = True
        args = args[1:]
    if len(args) != 1:
        print("usage: alloyfmt.py [--syntax] FILE | --labels FILE", file=sys.stderr)
        return 64
    path = args[0]
    with open(path, encoding="utf-8") as f:
        src = f.read()
    try:
        if show_labels:
            print("\n".join(labels(Parser(lex(src)[0]).body("EOF"))))
            return 0
        want = alloy_fmt(src)
    except SyntaxErr as e:
        print("%s:%d:%d: %s" % (path, e.line, e.col, e.msg), file=sys.stderr)
        return 1
    if syntax_only or want == src:
        return 0
    print("%s: not in the layout `alloy fmt` prints:" % path, file=sys.stderr)
    sys.stderr.writelines(difflib.unified_diff(
        src.splitlines(True), want.splitlines(True), path, "alloy fmt"))
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
