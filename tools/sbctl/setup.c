/*
 * setup.c: `sbctl setup`, the first-run verb, which makes whatever is
 * missing and leaves alone whatever is there, so it can run before every
 * start (make run does):
 *
 *   the environment file, with a new random SB_COMPONENT_SECRET (the
 *   secret of the router links, which every process reads);
 *   the run directory and the log's directory;
 *   a self-signed certificate (ECDSA P-256, ten years) for every c2s and
 *   s2s domain whose certificate and key files both do not exist yet;
 *   the database schema (created, or migrated after an upgrade).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <idn2.h>

#include "config.h"
#include "sbctl.h"
#include "tls.h"
#include "xmalloc.h"

/* Write a new file (it must not exist) with mode: 0, or -1 after a message. */
static int
write_new(const struct sbctl *ctx, const char *path, const void *data, size_t len,
    unsigned mode)
{
	char *dir = xstrndup(path, (size_t)(strrchr(path, '/') != NULL ?
	    strrchr(path, '/') - path : 0));
	int fd, rc = 0;

	if (dir[0] != '\0' && sbctl_mkdirs(ctx, dir, 0755) == -1) {
		free(dir);
		return -1;
	}
	free(dir);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, (mode_t)mode)) == -1) {
		sbctl_err(ctx, "cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	if (write(fd, data, len) != (ssize_t)len) {
		sbctl_err(ctx, "cannot write %s: %s", path, strerror(errno));
		rc = -1;
	}
	if (close(fd) == -1 && rc == 0) {
		sbctl_err(ctx, "cannot write %s: %s", path, strerror(errno));
		rc = -1;
	}
	if (rc == -1)
		unlink(path);
	return rc;
}

static int
make_env(struct sbctl *ctx)
{
	const char *path = ctx->launcher.env_path;
	unsigned char raw[24];
	char text[128];
	int n;

	if (access(path, F_OK) == 0)
		return 0;
	if (gnutls_rnd(GNUTLS_RND_KEY, raw, sizeof(raw)) < 0) {
		sbctl_err(ctx, "no random numbers for the component secret");
		return -1;
	}
	n = snprintf(text, sizeof(text), "# made by sbctl setup: the secret of the router links\n"
	    "SB_COMPONENT_SECRET=");
	for (size_t i = 0; i < sizeof(raw); i++)
		n += snprintf(text + n, sizeof(text) - (size_t)n, "%02x", raw[i]);
	n += snprintf(text + n, sizeof(text) - (size_t)n, "\n");
	gnutls_memset(raw, 0, sizeof(raw));
	if (write_new(ctx, path, text, (size_t)n, 0600) == -1)
		return -1;
	gnutls_memset(text, 0, sizeof(text));
	printf("made %s (the component secret)\n", path);
	return sbctl_env_load(ctx, path) == -1 ? -1 : 0;
}

/* A self-signed pair for domain (lib/tls.c), named by its A-label form. */
static int
make_cert(const struct sbctl *ctx, const char *domain, const char *cert_path,
    const char *key_path)
{
	char *ascii = NULL, *cpath = sbctl_path_clean(cert_path);
	char *kpath = sbctl_path_clean(key_path), *dir = xstrndup(cpath,
	    (size_t)(strrchr(cpath, '/') - cpath));
	char err[1024];
	int rc = -1;

	if (idn2_to_ascii_8z(domain, &ascii, IDN2_NONTRANSITIONAL) != IDN2_OK) {
		sbctl_err(ctx, "%s: not a domain name a certificate can hold", domain);
	} else if (sbctl_mkdirs(ctx, dir, 0755) == 0) {
		if (sb_tls_make_selfsigned(ascii, cpath, kpath, err, sizeof(err)) == -1) {
			sbctl_err(ctx, "%s: %s", domain, err);
		} else {
			printf("made a self-signed certificate for %s: %s (key %s); clients will "
			    "warn about it: use one a CA signed for a real domain\n", domain, cpath,
			    kpath);
			rc = 0;
		}
	}
	free(ascii);
	free(cpath);
	free(kpath);
	free(dir);
	return rc;
}

/* Every <domain> of one process's file whose certificate and key are both missing. */
static int
certs_for(const struct sbctl *ctx, const struct sbctl_proc *p)
{
	const struct sb_config_node *d;
	struct sb_config *cfg;
	char err[1024];
	int rc = 0;

	if (sb_config_load(&cfg, p->config, err, sizeof(err)) == -1) {
		sbctl_err(ctx, "%s", err);
		return -1;
	}
	for (d = sb_config_child(sb_config_root(cfg), "domain"); d != NULL && rc == 0;
	    d = sb_config_next(d, "domain")) {
		const char *name = sb_config_attr(d, "name"), *cert = NULL, *key = NULL;
		int have_cert, have_key;

		if (name == NULL || sb_config_get_path(d, "certificate", NULL, &cert, err,
		    sizeof(err)) == -1 || sb_config_get_path(d, "key", NULL, &key, err,
		    sizeof(err)) == -1 || cert == NULL || key == NULL)
			continue;	/* the process's own check reports it */
		have_cert = access(cert, F_OK) == 0;
		have_key = access(key, F_OK) == 0;
		if (have_cert && have_key)
			continue;
		if (have_cert != have_key) {
			sbctl_err(ctx, "%s: domain %s: %s exists but %s does not; restore it, or "
			    "remove both to have a self-signed pair made", p->config, name,
			    have_cert ? cert : key, have_cert ? key : cert);
			rc = -1;
			break;
		}
		rc = make_cert(ctx, name, cert, key);
	}
	sb_config_free(cfg);
	return rc;
}

int
sbctl_setup(struct sbctl *ctx, int argc, char **argv)
{
	const struct sbctl_launcher *L = &ctx->launcher;
	char *logdir = xstrndup(L->log_path, (size_t)(strrchr(L->log_path, '/') - L->log_path));
	int rc;

	rc = make_env(ctx) == -1 || sbctl_mkdirs(ctx, L->run_dir, 0755) == -1 ||
	    sbctl_mkdirs(ctx, logdir, 0755) == -1 ? -1 : 0;
	free(logdir);
	for (size_t i = 0; rc == 0 && i < L->nprocs; i++)
		if (strcmp(L->procs[i].prog->name, "c2s") == 0 ||
		    strcmp(L->procs[i].prog->name, "s2s") == 0)
			rc = certs_for(ctx, &L->procs[i]);
	if (rc == -1)
		return SBCTL_FAIL;
	printf("database: ");
	return sbctl_db_migrate(ctx, argc, argv);
}
