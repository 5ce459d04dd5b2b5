/* ps-s3-drv - drives ps_s3 from the shell, for tests/e2e/s3_client.sh
 * (against a real radosgw).  Not installed; no part of pkgsmith's CLI.
 *
 *   ps-s3-drv [-t TARGET] [-e ENDPOINT] [-r REGION] [-c CREDENTIALS]
 *             [-j PARALLEL] [-n RETRIES] [-m MULTIPART-THRESHOLD]
 *             [-p PART-SIZE] CMD ARGS...
 *   put KEY FILE [if-none-match] [cache=VALUE] [type=VALUE]
 *                      prints "put KEY", or "exists KEY" and exits 3
 *   putmany PREFIX N   N objects PREFIX/0..N-1 (content "object I") in
 *                      one batch; prints "put N requests R"
 *   head KEY           prints "SIZE ETAG SHA256", or "missing" and exits 3
 *   get KEY            the object on stdout, or exits 3 when missing
 *   delete KEY
 * Defaults come from S3_TARGET, S3_ENDPOINT, S3_REGION, S3_CREDENTIALS.
 * A failure prints ps_s3's message and exits with ps_error_exit_status.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ps_s3.h"

static int fail(const ps_error *err)
{
    fprintf(stderr, "ps-s3-drv: %s\n", err->msg);
    return ps_error_exit_status(err->code);
}

static int cmd_put(ps_s3 *s, int argc, char **argv, ps_error *err)
{
    if (argc < 2)
        return 64;
    ps_s3_put p = {.key = argv[0], .path = argv[1]};
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "if-none-match") == 0)
            p.if_none_match = 1;
        else if (strncmp(argv[i], "cache=", 6) == 0)
            p.cache_control = argv[i] + 6;
        else if (strncmp(argv[i], "type=", 5) == 0)
            p.content_type = argv[i] + 5;
        else
            return 64;
    }
    if (ps_s3_put_batch(s, &p, 1, err) != PS_OK)
        return fail(err);
    printf("%s %s\n", p.exists ? "exists" : "put", p.key);
    return p.exists ? 3 : 0;
}

static int cmd_putmany(ps_s3 *s, int argc, char **argv, ps_error *err)
{
    if (argc != 2)
        return 64;
    size_t n = strtoul(argv[1], NULL, 10);
    ps_s3_put *p = calloc(n ? n : 1, sizeof *p);
    char **keys = calloc(n ? n : 1, sizeof *keys), **bodies = calloc(n ? n : 1, sizeof *bodies);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        keys[i] = ps_strdupf("%s/%zu", argv[0], i);
        bodies[i] = ps_strdupf("object %zu\n", i);
        p[i] = (ps_s3_put){.key = keys[i], .data = bodies[i], .len = strlen(bodies[i])};
    }
    if (ps_s3_put_batch(s, p, n, err) != PS_OK)
        rc = fail(err);
    size_t done = 0;
    for (size_t i = 0; i < n; i++)
        done += p[i].done;
    if (rc == 0)
        printf("put %zu requests %llu\n", done,
               (unsigned long long)ps_s3_stats_get(s).requests);
    for (size_t i = 0; i < n; i++)
        free(keys[i]), free(bodies[i]);
    free(keys), free(bodies), free(p);
    return rc;
}

static int cmd_head(ps_s3 *s, int argc, char **argv, ps_error *err)
{
    ps_s3_object o;
    if (argc != 1)
        return 64;
    if (ps_s3_head(s, argv[0], &o, err) != PS_OK)
        return fail(err);
    if (!o.exists) {
        printf("missing\n");
        return 3;
    }
    printf("%llu %s %s\n", (unsigned long long)o.size, o.etag, o.sha256[0] ? o.sha256 : "-");
    return 0;
}

static int cmd_get(ps_s3 *s, int argc, char **argv, ps_error *err)
{
    ps_buf b = {0};
    int found = 0;
    if (argc != 1)
        return 64;
    if (ps_s3_get(s, argv[0], 1 << 30, &b, &found, err) != PS_OK)
        return fail(err);
    if (found && b.len)
        fwrite(b.data, 1, b.len, stdout);
    ps_buf_free(&b);
    return found ? 0 : 3;
}

static int cmd_delete(ps_s3 *s, int argc, char **argv, ps_error *err)
{
    if (argc != 1)
        return 64;
    return ps_s3_delete(s, argv[0], err) == PS_OK ? 0 : fail(err);
}

static int dispatch(ps_s3 *s, int argc, char **argv, ps_error *err)
{
    static const struct {
        const char *name;
        int (*fn)(ps_s3 *, int, char **, ps_error *);
    } cmds[] = {{"put", cmd_put}, {"putmany", cmd_putmany}, {"head", cmd_head},
                {"get", cmd_get}, {"delete", cmd_delete}};
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++)
        if (strcmp(argv[0], cmds[i].name) == 0)
            return cmds[i].fn(s, argc - 1, argv + 1, err);
    return 64;
}

int main(int argc, char **argv)
{
    ps_s3_opts o = {.target = getenv("S3_TARGET"), .endpoint = getenv("S3_ENDPOINT"),
                    .region = getenv("S3_REGION"), .credentials_file = getenv("S3_CREDENTIALS")};
    int c;
    while ((c = getopt(argc, argv, "+t:e:r:c:j:n:m:p:")) != -1) {
        switch (c) {
        case 't': o.target = optarg; break;
        case 'e': o.endpoint = optarg; break;
        case 'r': o.region = optarg; break;
        case 'c': o.credentials_file = optarg; break;
        case 'j': o.parallel = atoi(optarg); break;
        case 'n': o.retries = atoi(optarg); break;
        case 'm': o.multipart_threshold = strtoull(optarg, NULL, 10); break;
        case 'p': o.part_size = strtoull(optarg, NULL, 10); break;
        default: return 64;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "usage: ps-s3-drv [-t T] [-e E] [-r R] [-c F] [-j N] [-n N] CMD ARGS\n");
        return 64;
    }
    ps_error err = {0};
    ps_s3 *s = ps_s3_new(&o, &err);
    if (s == NULL)
        return fail(&err);
    int rc = dispatch(s, argc - optind, argv + optind, &err);
    if (rc == 64)
        fprintf(stderr, "ps-s3-drv: bad arguments to %s\n", argv[optind]);
    ps_s3_free(s);
    return rc;
}
