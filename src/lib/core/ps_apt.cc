// ps_apt.cc - the libapt-pkg shim behind ps_apt.h.
//
// libapt-pkg parses the stanzas (pkgTagSection), compares versions (debVS)
// and parses relations (debListParser::ParseDepends).  This file only
// splits the file into stanzas so it can keep line numbers for messages,
// and copies every result into plain malloc'd C memory.
#include "ps_apt.h"

#include <apt-pkg/deblistparser.h>
#include <apt-pkg/debversion.h>
#include <apt-pkg/error.h>
#include <apt-pkg/fileutl.h>
#include <apt-pkg/pkgcache.h>
#include <apt-pkg/tagfile.h>

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "ps_util.h"

namespace {

struct Field {
    std::string name;
    std::string value;
    unsigned line;
};

struct Stanza {
    std::vector<Field> fields;
    unsigned line;
};

// One stanza's text as libapt sees it (comments removed) and the file
// line of each of its lines.
struct Chunk {
    std::string text;
    std::vector<unsigned> lines;
};

}  // namespace

struct ps_deb822 {
    std::vector<Stanza> stanzas;
};

namespace {

bool is_blank(const std::string &l)
{
    for (char c : l)
        if (!isspace(static_cast<unsigned char>(c)))
            return false;
    return true;
}

// A field line starts with a name of printable characters and a colon.
bool is_field_line(const std::string &l)
{
    size_t colon = l.find(':');
    if (colon == std::string::npos || colon == 0)
        return false;
    for (size_t i = 0; i < colon; i++)
        if (!isgraph(static_cast<unsigned char>(l[i])))
            return false;
    return true;
}

ps_code split(const char *data, size_t len, const char *name, std::vector<Chunk> &out,
              ps_error *err)
{
    Chunk cur;
    unsigned lineno = 0;
    for (size_t pos = 0; pos < len;) {
        const char *nl = static_cast<const char *>(memchr(data + pos, '\n', len - pos));
        size_t end = nl ? static_cast<size_t>(nl - data) : len;
        std::string l(data + pos, end - pos);
        pos = end + 1;
        lineno++;
        if (!l.empty() && l.back() == '\r')
            l.pop_back();
        if (!l.empty() && l[0] == '#')
            continue;
        if (is_blank(l)) {
            if (!cur.lines.empty())
                out.push_back(cur);
            cur = Chunk();
            continue;
        }
        bool continuation = l[0] == ' ' || l[0] == '\t';
        if (continuation && cur.lines.empty())
            return ps_error_set(err, PS_EINPUT,
                                "%s:%u: continuation line outside a field", name, lineno);
        if (!continuation && !is_field_line(l))
            return ps_error_set(err, PS_EINPUT,
                                "%s:%u: expected 'Field: value', got '%.40s'", name, lineno,
                                l.c_str());
        cur.text += l + "\n";
        cur.lines.push_back(lineno);
    }
    if (!cur.lines.empty())
        out.push_back(cur);
    return PS_OK;
}

unsigned line_of(const Chunk &c, const char *start)
{
    size_t idx = 0;
    for (const char *p = c.text.data(); p < start; p++)
        idx += *p == '\n';
    return idx < c.lines.size() ? c.lines[idx] : c.lines.back();
}

ps_code parse_chunk(const Chunk &c, const char *name, Stanza &st, ps_error *err)
{
    // libapt wants the stanza terminated by an empty line.
    std::string text = c.text + "\n";
    Chunk view{text, c.lines};
    pkgTagSection sec;
    if (!sec.Scan(view.text.data(), view.text.size())) {
        _error->Discard();
        return ps_error_set(err, PS_EINPUT, "%s:%u: malformed stanza", name, c.lines[0]);
    }
    st.line = c.lines[0];
    for (unsigned i = 0; i < sec.Count(); i++) {
        const char *start, *stop;
        sec.Get(start, stop, i);
        std::string fname(start, static_cast<const char *>(memchr(start, ':', stop - start)));
        for (const Field &f : st.fields)
            if (strcasecmp(f.name.c_str(), fname.c_str()) == 0)
                return ps_error_set(err, PS_EINPUT, "%s:%u: duplicate field '%s'", name,
                                    line_of(view, start), fname.c_str());
        st.fields.push_back(Field{fname, sec.FindS(fname), line_of(view, start)});
    }
    return PS_OK;
}

ps_deb822 *parse(const char *data, size_t len, const char *name, ps_error *err)
{
    try {
        std::vector<Chunk> chunks;
        if (split(data, len, name, chunks, err) != PS_OK)
            return nullptr;
        ps_deb822 *d = new ps_deb822;
        for (const Chunk &c : chunks) {
            d->stanzas.emplace_back();
            if (parse_chunk(c, name, d->stanzas.back(), err) != PS_OK) {
                delete d;
                return nullptr;
            }
        }
        return d;
    } catch (const std::bad_alloc &) {
        ps_error_set(err, PS_ENOMEM, "out of memory");
        return nullptr;
    }
}

const Field *find(const ps_deb822 *d, size_t i, const char *field)
{
    if (i >= d->stanzas.size())
        return nullptr;
    for (const Field &f : d->stanzas[i].fields)
        if (strcasecmp(f.name.c_str(), field) == 0)
            return &f;
    return nullptr;
}

}  // namespace

extern "C" {

ps_deb822 *ps_deb822_parse_mem(const char *data, size_t len, const char *name, ps_error *err)
{
    return parse(data, len, name, err);
}

ps_deb822 *ps_deb822_parse_file(const char *path, ps_error *err)
{
    ps_buf b = {};
    if (ps_file_read(path, &b, err) != PS_OK)
        return nullptr;
    ps_deb822 *d = parse(reinterpret_cast<const char *>(b.data), b.len, path, err);
    ps_buf_free(&b);
    return d;
}

void ps_deb822_free(ps_deb822 *d)
{
    delete d;
}

size_t ps_deb822_count(const ps_deb822 *d)
{
    return d->stanzas.size();
}

const char *ps_deb822_get(const ps_deb822 *d, size_t i, const char *field)
{
    const Field *f = find(d, i, field);
    return f ? f->value.c_str() : nullptr;
}

size_t ps_deb822_nfields(const ps_deb822 *d, size_t i)
{
    return i < d->stanzas.size() ? d->stanzas[i].fields.size() : 0;
}

const char *ps_deb822_name_at(const ps_deb822 *d, size_t i, size_t f)
{
    return d->stanzas[i].fields[f].name.c_str();
}

const char *ps_deb822_value_at(const ps_deb822 *d, size_t i, size_t f)
{
    return d->stanzas[i].fields[f].value.c_str();
}

unsigned ps_deb822_line(const ps_deb822 *d, size_t i)
{
    return i < d->stanzas.size() ? d->stanzas[i].line : 0;
}

unsigned ps_deb822_field_line(const ps_deb822 *d, size_t i, const char *field)
{
    const Field *f = find(d, i, field);
    return f ? f->line : ps_deb822_line(d, i);
}

ps_code ps_deb822_check_fields(const ps_deb822 *d, size_t i, const char *const *known,
                               const char *path, ps_error *err)
{
    for (size_t f = 0; f < ps_deb822_nfields(d, i); f++) {
        const char *name = ps_deb822_name_at(d, i, f);
        const char *const *k = known;
        while (*k && strcasecmp(name, *k) != 0)
            k++;
        if (*k == nullptr)
            return ps_error_set(err, PS_EINPUT, "%s:%u: unknown field '%s'", path,
                                ps_deb822_field_line(d, i, name), name);
    }
    return PS_OK;
}

int ps_apt_version_cmp(const char *a, const char *b)
{
    return debVS.CmpVersion(a, b);
}

// Debian policy 5.6.12; libapt has no validator of its own.
int ps_apt_version_valid(const char *v)
{
    if (v == nullptr || *v == '\0')
        return 0;
    const char *colon = strchr(v, ':');
    if (colon) {
        for (const char *p = v; p < colon; p++)
            if (!isdigit(static_cast<unsigned char>(*p)))
                return 0;
        if (colon == v)
            return 0;
        v = colon + 1;
    }
    const char *dash = strrchr(v, '-');
    if (!isdigit(static_cast<unsigned char>(*v)))
        return 0;
    for (const char *p = v; *p; p++) {
        bool in_revision = dash && p > dash;
        if (isalnum(static_cast<unsigned char>(*p)) || strchr(".+~", *p))
            continue;
        if (*p == '-' && !in_revision && p != dash)
            continue; // upstream may contain '-' when a revision follows
        if (p == dash && p[1] != '\0')
            continue;
        return 0;
    }
    return 1;
}

// libapt's ParseDepends looks for the '>' of a restriction list (and the
// ']' of an architecture list) past the end it is given when the list is
// not closed (found by tests/fuzz/fuzz_deb822): such a value is refused
// here, before it gets there.
static const char *unclosed(const char *value)
{
    const char *open = nullptr;
    char want = 0;
    bool version = false; // inside "(<< 2)": '<' there is an operator
    for (const char *p = value; *p; p++) {
        if (want == 0 && !version && *p == '(')
            version = true;
        else if (version && *p == ')')
            version = false;
        else if (want == 0 && !version && (*p == '<' || *p == '['))
            open = p, want = *p == '<' ? '>' : ']';
        else if (want && *p == want)
            want = 0;
    }
    return want ? open : nullptr;
}

// One relation; nullptr when it does not parse.  libapt throws
// std::length_error on some malformed architecture lists (found by
// tests/fuzz/fuzz_deb822): no C++ exception may cross into C.
static const char *parse_one(const char *p, const char *stop, std::string &pkg,
                             std::string &ver, unsigned int &op, bool arch_flags,
                             bool strip_multiarch, bool restrictions)
{
    try {
        return debListParser::ParseDepends(p, stop, pkg, ver, op, arch_flags, strip_multiarch,
                                           restrictions);
    } catch (...) {
        return nullptr;
    }
}

// Validating a relation field and handing its relations to a callback
// step through the value the same way; they differ in ParseDepends' flags
// and in what EACH does with a relation.  Returns nullptr when every
// relation parsed, else where the first bad one starts.  (A template has
// C++ linkage, inside this extern "C" block too.)
extern "C++" {
template <typename Each>
static const char *walk_relations(const char *value, bool arch_flags, bool strip_multiarch,
                                  bool restrictions, Each each)
{
    if (const char *u = unclosed(value))
        return u;
    const char *p = value, *stop = value + strlen(value);
    while (p < stop && isspace(static_cast<unsigned char>(*p)))
        p++;
    while (p < stop) {
        std::string pkg, ver;
        unsigned int op = 0;
        const char *next =
            parse_one(p, stop, pkg, ver, op, arch_flags, strip_multiarch, restrictions);
        if (next == nullptr || pkg.empty()) {
            _error->Discard();
            return p;
        }
        each(pkg, ver, op);
        p = next;
    }
    return nullptr;
}
}  // extern "C++"

int ps_apt_relations_valid(const char *value, const char **bad)
{
    const char *b = walk_relations(value, true, false, true,
                                   [](std::string &, const std::string &, unsigned int) {});
    if (b && bad)
        *bad = b;
    return b == nullptr;
}

struct ps_deb822_reader {
    FileFd fd;
    pkgTagFile *tf = nullptr;
    std::string path;
    unsigned long long limit = 0, seen = 0;
    ~ps_deb822_reader() { delete tf; }
};

ps_deb822_reader *ps_deb822_reader_open(const char *path, unsigned long long limit,
                                        ps_error *err)
{
    try {
        ps_deb822_reader *r = new ps_deb822_reader;
        r->path = path;
        r->limit = limit;
        if (!r->fd.Open(path, FileFd::ReadOnly, FileFd::Extension)) {
            _error->Discard();
            ps_error_set(err, PS_EIO, "%s: cannot open: %s", path, strerror(errno));
            delete r;
            return nullptr;
        }
        r->tf = new pkgTagFile(&r->fd);
        return r;
    } catch (const std::bad_alloc &) {
        ps_error_set(err, PS_ENOMEM, "out of memory");
        return nullptr;
    }
}

ps_deb822 *ps_deb822_reader_next(ps_deb822_reader *r, ps_error *err)
{
    try {
        pkgTagSection sec;
        unsigned long offset = r->tf->Offset();
        if (!r->tf->Step(sec)) {
            if (_error->PendingError()) {
                std::string msg;
                _error->PopMessage(msg);
                _error->Discard();
                ps_error_set(err, PS_EINPUT, "%s: near byte %lu: %s", r->path.c_str(), offset,
                             msg.c_str());
            }
            return nullptr;
        }
        r->seen += sec.size();
        if (r->limit && r->seen > r->limit) {
            ps_error_set(err, PS_EINPUT, "%s: more than %llu bytes uncompressed: refused",
                         r->path.c_str(), r->limit);
            return nullptr;
        }
        ps_deb822 *d = new ps_deb822;
        d->stanzas.emplace_back();
        Stanza &st = d->stanzas.back();
        st.line = 0;
        for (unsigned i = 0; i < sec.Count(); i++) {
            const char *start, *stop;
            sec.Get(start, stop, i);
            const char *colon = static_cast<const char *>(memchr(start, ':', stop - start));
            if (colon == nullptr)
                continue;
            std::string fname(start, colon);
            st.fields.push_back(Field{fname, sec.FindS(fname), 0});
        }
        return d;
    } catch (const std::bad_alloc &) {
        ps_error_set(err, PS_ENOMEM, "out of memory");
        return nullptr;
    }
}

void ps_deb822_reader_free(ps_deb822_reader *r)
{
    delete r;
}

static const char *op_name(unsigned int op)
{
    switch (op & 0x0F) {
    case pkgCache::Dep::LessEq: return "<=";
    case pkgCache::Dep::GreaterEq: return ">=";
    case pkgCache::Dep::Less: return "<<";
    case pkgCache::Dep::Greater: return ">>";
    case pkgCache::Dep::Equals: return "=";
    case pkgCache::Dep::NotEquals: return "!=";
    default: return "";
    }
}

int ps_apt_relations_each(const char *value, ps_apt_relation_cb cb, void *ud)
{
    size_t group = 0;
    auto each = [&](std::string &pkg, const std::string &ver, unsigned int op) {
        size_t colon = pkg.find(':');
        if (colon != std::string::npos)
            pkg.resize(colon);
        cb(ud, group, pkg.c_str(), op_name(op), ver.c_str());
        if ((op & pkgCache::Dep::Or) == 0)
            group++;
    };
    return walk_relations(value, false, true, false, each) == nullptr;
}

int ps_apt_version_satisfies(const char *version, const char *op, const char *ref)
{
    int c = *op ? debVS.CmpVersion(version, ref) : 0;
    if (*op == '\0')
        return 1;
    if (strcmp(op, "<=") == 0) return c <= 0;
    if (strcmp(op, ">=") == 0) return c >= 0;
    if (strcmp(op, "<<") == 0) return c < 0;
    if (strcmp(op, ">>") == 0) return c > 0;
    if (strcmp(op, "=") == 0) return c == 0;
    if (strcmp(op, "!=") == 0) return c != 0;
    return 0;
}

}  // extern "C"

const char *const *ps_apt_package_field_order(void)
{
    return TFRewritePackageOrder;
}
