#include "testutil.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ps_repo.h"

static void test_init_and_config_errors(void **state)
{
    (void)state;
    char *d = tu_tmpdir();
    ps_error err = {0};
    ps_repo_init_opts o = {0};
    assert_int_equal(ps_repo_init(d, &o, &err), PS_EKEY); /* no key */
    ps_error_clear(&err);
    o.key = "0123456789ABCDEF0123456789ABCDEF01234567";
    assert_int_equal(ps_repo_init(d, &o, &err), PS_OK);
    assert_int_equal(ps_repo_init(d, &o, &err), PS_EINPUT); /* exists */
    ps_error_clear(&err);
    ps_repo *r = ps_repo_open(d, 0, 0, &err);
    assert_non_null(r);
    assert_string_equal(ps_repo_suites(r)->v[0], "stable");
    assert_int_equal(ps_repo_count(r), 0);
    assert_int_equal(ps_repo_current(r), 0);
    ps_repo_free(r);
    /* an unknown field is named with its line */
    char *conf = ps_strdupf("%s/repo.conf", d);
    FILE *f = fopen(conf, "a");
    fputs("Suite: typo\n", f);
    fclose(f);
    assert_null(ps_repo_open(d, 0, 0, &err));
    assert_int_equal(err.code, PS_EINPUT);
    assert_non_null(strstr(err.msg, "repo.conf:"));
    assert_non_null(strstr(err.msg, "unknown field 'Suite'"));
    free(conf);
    ps_rm_rf(d, NULL);
    free(d);
}

static void test_lock_is_exclusive(void **state)
{
    (void)state;
    char *d = tu_tmpdir();
    char *lock = ps_strdupf("%s/lock", d);
    int fd = -1, pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t child = fork();
    if (child == 0) {
        int cfd;
        char c = ps_lock(lock, 0, &cfd, NULL) == PS_OK ? 'y' : 'n';
        if (write(pipefd[1], &c, 1) != 1)
            _exit(2);
        sleep(2);
        _exit(0);
    }
    char c = 0;
    assert_int_equal(read(pipefd[0], &c, 1), 1);
    assert_int_equal(c, 'y');
    ps_error err = {0};
    assert_int_equal(ps_lock(lock, 0, &fd, &err), PS_EBUSY);
    assert_non_null(strstr(err.msg, "held by another pkgsmith (pid"));
    assert_int_equal(ps_error_exit_status(err.code), 75);
    ps_error_clear(&err);
    assert_int_equal(ps_lock(lock, 10, &fd, &err), PS_OK); /* waits */
    close(fd);
    waitpid(child, NULL, 0);
    free(lock);
    ps_rm_rf(d, NULL);
    free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_and_config_errors),
        cmocka_unit_test(test_lock_is_exclusive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
