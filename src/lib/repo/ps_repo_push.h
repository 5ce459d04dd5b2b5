/* ps_repo_push.h - `pkgsmith repo push`: the served generation copied to
 * S3-compatible object storage (ps_s3), in an order that keeps every
 * client consistent.
 *
 * repo.conf:
 *   Publish-To: s3://BUCKET/PREFIX ...    one or more targets
 *   S3-Endpoint: http://HOST:PORT         path-style addressing
 *   S3-Region: REGION                     default us-east-1
 *   S3-Credentials-File: PATH             mode 0600 (see ps_s3.h)
 *   S3-Storage-Class: CLASS               optional
 *   S3-Lease-Seconds: N                   how long a lease holds (900)
 *   S3-Delete-Grace-Seconds: N            how long before deletion (86400)
 *
 * A push, per target:
 *   1. takes the lease PREFIX/.pkgsmith/lease with a conditional PUT
 *      (If-None-Match: *) naming the holder and an expiry; a lease that
 *      has not expired refuses the push (PS_EBUSY naming the holder), an
 *      expired one is taken over, and so is one this host took for a
 *      process that is gone (a push killed here);
 *   2. reads PREFIX/.pkgsmith/manifest ("SHA256 KEY" per object the
 *      bucket holds, as far as pushes know): what it lists with the same
 *      SHA-256 is not sent again (no bucket listing);
 *   3. uploads, each phase complete before the next starts: pool files
 *      (immutable: If-None-Match: *, and an existing key with other
 *      content is refused, never overwritten), by-hash and checksum-named
 *      repodata files (immutable too), the other files (canonical index
 *      names, keys), then Release and repomd.xml, then Release.gpg and
 *      repomd.xml.asc, then InRelease: nothing becomes visible before
 *      what it references;
 *      Entry files are never written in the same second as the previous
 *      push's (the manifest records when): clients revalidate them with
 *      If-Modified-Since, whose resolution is one second;
 *   4. rewrites the manifest after each phase (so a push killed at any
 *      point is completed by the next one, which sends only what is
 *      missing) and releases the lease.
 * Then objects the manifest lists that no kept local generation names
 * are marked in the manifest ("#gone SINCE KEY"); a later push deletes
 * one once S3-Delete-Grace-Seconds (default 86400: at least the CDN's
 * TTL plus a client's update) have passed, never in the run that marked
 * it, and forgets the mark when a generation names the key again.
 * Cache-Control follows repo-tools/nginx: immutable for pool and
 * hash-named files, max-age=60 for the rest.
 */
#ifndef PS_REPO_PUSH_H
#define PS_REPO_PUSH_H

#include <stddef.h>
#include <stdint.h>

#include "ps_error.h"
#include "ps_repo.h"

typedef struct ps_repo_pushed {
    long generation;
    size_t targets;   /* targets pushed to */
    size_t objects;   /* objects the generation has, per target */
    size_t uploaded;  /* objects written, all targets */
    size_t unchanged; /* objects the bucket had already */
    size_t deleted;   /* objects no kept generation names, past the grace */
    uint64_t bytes;   /* payload bytes written */
    uint64_t requests;
} ps_repo_pushed;

/* Non-zero when repo.conf names a Publish-To target. */
int ps_repo_push_configured(const ps_repo *r);

/* Pushes the served generation to TARGET (one of Publish-To), or to every
 * target when TARGET is NULL. */
ps_code ps_repo_push(ps_repo *r, const char *target, ps_repo_pushed *out, ps_error *err);

/* ps_repo_publish, then ps_repo_push to every target when Publish-To is
 * set (*PUSHED zeroed when it is not): the one path by which `repo
 * publish`, mirror sync and bundle import publish.  A failed push leaves
 * the local generation published and the bucket serving its previous
 * one; `repo push` (or the next publish) completes it. */
ps_code ps_repo_publish_push(ps_repo *r, ps_repo_published *pub, ps_repo_pushed *pushed,
                             ps_error *err);

#endif
