/* test_lifecycle.c - promote, snapshots and gc on the working set, through
 * the library (the e2e tests publish and install; these pin the rules). */
#include "testutil.h"

#include "ps_repo.h"
#include "ps_repo_gc.h"
#include "ps_repo_snapshot.h"

typedef struct pkg {
    char sha[65], *href, *file, *record;
} pkg;

/* A package file of bytes BODY in DIR, with its pool href and a record. */
static void make_pkg(pkg *p, const char *dir, const char *filename, const char *body)
{
    ps_sha256 *h = ps_sha256_new(NULL);
    ps_sha256_update(h, body, strlen(body));
    ps_sha256_final(h, p->sha);
    p->file = ps_strdupf("%s/%s", dir, filename);
    assert_int_equal(ps_file_write_atomic(p->file, body, strlen(body), 0644, NULL), PS_OK);
    p->href = ps_repo_pool_href(p->sha, filename);
    p->record = ps_strdupf("Package: %s\nFilename: %s\n", filename, p->href);
}

static void free_pkg(pkg *p)
{
    free(p->href), free(p->file), free(p->record);
}

static ps_repo_item item(const pkg *p, const char *name, const char *version, const char *body)
{
    return (ps_repo_item){"deb", "staging/main", name, version, "amd64", p->sha, strlen(body),
                          p->href, p->file, p->record, strlen(p->record)};
}

static ps_repo *open_repo(const char *d)
{
    ps_error err = {0};
    ps_repo *r = ps_repo_open(d, 1, 0, &err);
    if (r == NULL)
        fail_msg("open %s: %s", d, err.msg);
    return r;
}

static char *new_repo(void)
{
    char *d = tu_tmpdir();
    const char *suites[] = {"staging", "prod"};
    ps_repo_init_opts o = {.suites = suites, .nsuites = 2, .rpm_repos = suites, .nrpm_repos = 2,
                           .key = "0123456789ABCDEF0123456789ABCDEF01234567"};
    assert_int_equal(ps_repo_init(d, &o, NULL), PS_OK);
    return d;
}

/* The entry of NAME in TARGET, or a zeroed one. */
static ps_repo_pkg find(const ps_repo *r, const char *target, const char *name)
{
    for (size_t i = 0; i < ps_repo_count(r); i++) {
        ps_repo_pkg p = ps_repo_pkg_at(r, i);
        if (strcmp(p.target, target) == 0 && strcmp(p.name, name) == 0)
            return p;
    }
    return (ps_repo_pkg){0};
}

static void test_promote_names_the_same_pool_file(void **state)
{
    (void)state;
    char *d = new_repo(), *in = tu_tmpdir();
    pkg a, b;
    make_pkg(&a, in, "ajl_1.0-1_all.deb", "alloy-journal-loki 1.0");
    make_pkg(&b, in, "acme-repo_1.0-1+staging_all.deb", "client staging");
    ps_repo_item items[] = {item(&a, "ajl", "1.0-1", "alloy-journal-loki 1.0"),
                            item(&b, "acme-repo", "1.0-1+staging", "client staging")};
    ps_repo *r = open_repo(d);
    ps_error err = {0};
    size_t added = 0, removed = 0, promoted = 0, unchanged = 0;
    int changed = 0;
    assert_int_equal(ps_repo_set_source(r, "mirror:t", items, 2, &added, &removed, &changed, &err),
                     PS_OK);
    assert_int_equal(added, 2);

    /* NAME=VERSION: only that package, and the pool file is shared. */
    const char *spec[] = {"ajl=1.0-1"};
    assert_int_equal(ps_repo_promote(r, "staging", "prod", spec, 1, &promoted, &unchanged, &err),
                     PS_OK);
    assert_int_equal(promoted, 1);
    assert_int_equal(unchanged, 0);
    ps_repo_pkg s = find(r, "staging/main", "ajl"), p = find(r, "prod/main", "ajl");
    assert_non_null(p.name);
    assert_string_equal(p.href, s.href);
    assert_string_equal(p.sha256, a.sha);
    assert_null(find(r, "prod/main", "acme-repo").name);

    /* Again: nothing new. */
    assert_int_equal(ps_repo_promote(r, "staging", "prod", spec, 1, &promoted, &unchanged, &err),
                     PS_OK);
    assert_int_equal(promoted, 0);
    assert_int_equal(unchanged, 1);

    /* A spec that matches nothing is named. */
    const char *wrong[] = {"ajl=9.9-1"};
    assert_int_equal(ps_repo_promote(r, "staging", "prod", wrong, 1, &promoted, &unchanged, &err),
                     PS_EINPUT);
    assert_non_null(strstr(err.msg, "ajl=9.9-1"));
    ps_error_clear(&err);
    /* A suite repo.conf lacks is refused. */
    assert_int_not_equal(ps_repo_promote(r, "staging", "nope", NULL, 0, &promoted, &unchanged, &err),
                         PS_OK);
    assert_non_null(strstr(err.msg, "nope"));
    ps_error_clear(&err);
    ps_repo_free(r);
    free_pkg(&a), free_pkg(&b);
    ps_rm_rf(d, NULL), ps_rm_rf(in, NULL);
    free(d), free(in);
}

static int exists_in(const char *root, const char *rel)
{
    char *p = ps_strdupf("%s/%s", root, rel);
    int e = ps_path_exists(p);
    free(p);
    return e;
}

static void test_snapshot_keeps_files_from_gc(void **state)
{
    (void)state;
    char *d = new_repo(), *in = tu_tmpdir();
    pkg a;
    make_pkg(&a, in, "ajl_1.0-1_all.deb", "alloy-journal-loki 1.0");
    ps_repo_item it = item(&a, "ajl", "1.0-1", "alloy-journal-loki 1.0");
    ps_repo *r = open_repo(d);
    ps_error err = {0};
    size_t added = 0, removed = 0, count = 0;
    int changed = 0;
    assert_int_equal(ps_repo_set_source(r, "mirror:t", &it, 1, &added, &removed, &changed, &err),
                     PS_OK);
    assert_int_equal(ps_repo_snapshot_create(r, "before-2.0", &count, &err), PS_OK);
    assert_int_equal(count, 1);
    assert_int_equal(ps_repo_snapshot_create(r, "before-2.0", &count, &err), PS_EINPUT);
    ps_error_clear(&err);

    /* The package leaves the working set; the snapshot still holds it. */
    assert_int_equal(ps_repo_set_source(r, "mirror:t", NULL, 0, &added, &removed, &changed, &err),
                     PS_OK);
    assert_int_equal(removed, 1);
    assert_int_equal(ps_repo_count(r), 0);
    ps_repo_gc_result g = {0};
    assert_int_equal(ps_repo_gc(r, 1, &g, &err), PS_OK);
    assert_int_equal(g.n, 0);
    ps_repo_gc_result_free(&g);

    ps_repo_snapshot *v = NULL;
    size_t n = 0;
    assert_int_equal(ps_repo_snapshot_list(r, &v, &n, &err), PS_OK);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].name, "before-2.0");
    assert_int_equal(v[0].packages, 1);
    ps_repo_snapshots_free(v, n);

    /* A pinned snapshot cannot be dropped; unpinned it can, and then gc
     * finds its pool file and record, lists them on --dry-run, and
     * removes them. */
    assert_int_equal(ps_repo_pin(r, "prod", "before-2.0", &err), PS_OK);
    assert_int_not_equal(ps_repo_snapshot_drop(r, "before-2.0", &err), PS_OK);
    assert_non_null(strstr(err.msg, "prod"));
    ps_error_clear(&err);
    assert_int_equal(ps_repo_pin(r, "prod", NULL, &err), PS_OK);
    assert_int_equal(ps_repo_snapshot_drop(r, "before-2.0", &err), PS_OK);
    assert_int_equal(ps_repo_gc(r, 1, &g, &err), PS_OK);
    int pool = 0;
    for (size_t i = 0; i < g.n; i++)
        pool |= strstr(g.v[i].path, a.sha) != NULL && strncmp(g.v[i].path, "pool/", 5) == 0;
    assert_true(pool);
    assert_true(g.bytes >= strlen("alloy-journal-loki 1.0"));
    ps_repo_gc_result_free(&g);
    assert_true(exists_in(d, a.href)); /* --dry-run removed nothing */
    assert_int_equal(ps_repo_gc(r, 0, &g, &err), PS_OK);
    ps_repo_gc_result_free(&g);
    assert_false(exists_in(d, a.href));
    assert_int_equal(ps_repo_gc(r, 1, &g, &err), PS_OK);
    assert_int_equal(g.n, 0); /* nothing left to collect */
    ps_repo_gc_result_free(&g);
    ps_repo_free(r);
    free_pkg(&a);
    ps_rm_rf(d, NULL), ps_rm_rf(in, NULL);
    free(d), free(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_promote_names_the_same_pool_file),
        cmocka_unit_test(test_snapshot_keeps_files_from_gc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
