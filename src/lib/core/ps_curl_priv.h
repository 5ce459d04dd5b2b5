/* ps_curl_priv.h - what ps_fetch.c and ps_s3.c share of libcurl's multi
 * interface; private to core/, not a public API. */
#ifndef PS_CURL_PRIV_H
#define PS_CURL_PRIV_H

#include <curl/curl.h>

/* The next finished transfer of MULTI: its CURLOPT_PRIVATE in *PRIV and
 * its result in *RES.  0 when no transfer has finished. */
static inline int ps_curl_next_done(CURLM *multi, void **priv, CURLcode *res)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        char *p = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &p);
        *priv = p, *res = m->data.result;
        return 1;
    }
    return 0;
}

/* What every transfer of ours sets: URL, PRIV as CURLOPT_PRIVATE and as
 * the data of the BODY and HEADER callbacks, ERRBUF (CURL_ERROR_SIZE),
 * the user agent and the connect timeout.  NULL when libcurl has no
 * handle to give. */
static inline CURL *ps_curl_easy_new(const char *url, void *priv, curl_write_callback body,
                                     curl_write_callback header, char *errbuf,
                                     const char *agent, long connect_timeout_s)
{
    CURL *e = curl_easy_init();
    if (e == NULL)
        return NULL;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, priv);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, priv);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, priv);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(e, CURLOPT_USERAGENT, agent);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, connect_timeout_s);
    return e;
}

/* Takes *EASY out of MULTI and frees it (nothing when it is NULL). */
static inline void ps_curl_drop(CURLM *multi, CURL **easy)
{
    if (*easy) {
        curl_multi_remove_handle(multi, *easy);
        curl_easy_cleanup(*easy);
        *easy = NULL;
    }
}

#endif
