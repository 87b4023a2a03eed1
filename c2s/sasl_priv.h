/*
 * sasl_priv.h: what the SASL module's files share (sasl.c: contexts,
 * dispatch, answers, the account lookup; sasl_scram.c: SCRAM through
 * cyrus-sasl; sasl_plain.c: PLAIN; sasl_throttle.c: throttling). Nothing
 * outside c2s/sasl*.c includes it.
 */
#ifndef C2S_SASL_PRIV_H
#define C2S_SASL_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include <sasl/sasl.h>
#include <uv.h>

#include "buf.h"
#include "jid.h"
#include "sasl.h"
#include "scram.h"
#include "tls.h"

#define C2S_SASL_MAX_B64		16384	/* longest base64 we decode (bytes of text) */
#define C2S_SASL_MAX_MSG		4096	/* longest decoded SASL message we parse */
#define C2S_SASL_CB_MAX		64	/* bytes of channel-binding data */
#define FAKE_SECRET_LEN		32

enum c2s_sasl_kind {
	C2S_SASL_SCRAM,
	C2S_SASL_PLAIN,
};

struct c2s_sasl_mech {
	const char		*name;		/* as offered and asked for */
	enum c2s_sasl_kind		 kind;
	enum sb_scram_hash	 hash;		/* SCRAM */
	int			 plus;		/* SCRAM: needs channel binding */
};

/* A channel-binding type we offer, in the order we prefer them. */
struct c2s_sasl_cbtype {
	const char		*name;		/* RFC 5056 name, as in "p=NAME" */
	enum sb_tls_cb_type	 type;
};

struct c2s_sasl_tbl;

struct c2s_sasl_ctx {
	uv_loop_t		*loop;
	struct sb_store		*store;
	unsigned char		 fake_secret[FAKE_SECRET_LEN];
	struct c2s_sasl_tbl	*by_addr;
	struct c2s_sasl_tbl	*by_account;
	unsigned		 nsasl;		/* negotiations not yet destroyed */
	int			 dying;		/* freed by its owner; goes with the last */
};

enum c2s_sasl_state {
	ST_WAIT_FIRST,		/* empty <auth/>: waiting for the first message */
	ST_LOOKUP,		/* secrets on their way from storage */
	ST_WAIT_FINAL,		/* SCRAM: server-first sent, waiting for client-final */
	ST_HASHING,		/* PLAIN: PBKDF2 on the thread pool */
	ST_DONE,		/* answered SUCCESS or FAILURE, or aborted */
};

/* Parsed SCRAM client-first-message (pointers into the decoded message). */
struct scram_first {
	char			 cbflag;	/* 'n', 'y' or 'p' */
	const char		*cbname;	/* 'p': the type, not NUL-terminated */
	size_t			 cbname_len;
	size_t			 gs2_len;	/* gs2 header with its final ',' */
	char			*authzid;	/* decoded, NUL-terminated; "" when absent */
	char			*user;		/* decoded, NUL-terminated */
};

struct c2s_sasl {
	struct c2s_sasl_ctx	*ctx;
	const struct c2s_sasl_mech	*mech;
	char			*domain;
	const struct sb_tls	*tls;
	c2s_sasl_cb		*cb;
	void			*arg;
	enum c2s_sasl_state		 state;
	int			 pending;	/* a storage lookup or hashing in flight */
	int			 dead;		/* c2s_sasl_free() came while pending */

	char			*user;		/* prepared localpart, once known */
	char			*account;	/* user@domain, for throttling */
	int			 known;		/* the account exists with a usable secret */
	int			 disabled;
	struct sb_scram_secret	 secret;	/* the real one, or the fake one */

	/* SCRAM */
	char			*first;		/* decoded client-first-message */
	size_t			 first_len;
	char			*raw_user;	/* n= decoded, before preparation */
	char			*gs2;		/* gs2 header, for checking c= */
	size_t			 gs2_len;
	sasl_channel_binding_t	 sasl_cb;	/* 'p': what cyrus checks against */
	unsigned char		 cbdata[C2S_SASL_CB_MAX];
	char			*cbname;
	char			*authpassword;	/* the RFC 3112 value cyrus reads */
	sasl_conn_t		*conn;
	sasl_callback_t		 conn_cbs[2];

	/* PLAIN */
	char			*password;	/* prepared; wiped and freed after hashing */
	size_t			 password_len;
	int			 password_ok;
	uv_work_t		 work;

	struct sb_buf		 out;		/* base64 of the answer's data */
};

/* sasl.c */
void	 c2s_sasl_answer_challenge(struct c2s_sasl *s, const void *data, size_t len);
void	 c2s_sasl_answer_success(struct c2s_sasl *s, const void *data, size_t len);
void	 c2s_sasl_answer_failure(struct c2s_sasl *s, const char *condition, const char *text);
/* A failure before any credential was looked at: it counts against no one. */
void	 c2s_sasl_answer_untested(struct c2s_sasl *s, const char *condition, const char *text);
int	 c2s_sasl_decode(struct c2s_sasl *s, const char *b64, char **out, size_t *outlen);
int	 c2s_sasl_set_user(struct c2s_sasl *s, const char *raw, size_t len);
int	 c2s_sasl_check_authzid(struct c2s_sasl *s, const char *authzid);
void	 c2s_sasl_lookup(struct c2s_sasl *s, void (*then)(struct c2s_sasl *s));
int	 c2s_sasl_release(struct c2s_sasl *s);
const struct c2s_sasl_cbtype *c2s_sasl_cbtype_find(const char *name, size_t len);
int	 c2s_sasl_cb_data(const struct sb_tls *tls, const struct c2s_sasl_cbtype *t,
	     unsigned char *out, size_t *len);
int	 c2s_sasl_offers_plus(const struct sb_tls *tls);

/* sasl_scram.c */
int	 c2s_sasl_scram_global_init(char *err, size_t errlen);
void	 c2s_sasl_scram_global_done(void);
void	 c2s_sasl_scram_message(struct c2s_sasl *s, const char *b64);
void	 c2s_sasl_scram_final(struct c2s_sasl *s, const char *b64);
void	 c2s_sasl_scram_cleanup(struct c2s_sasl *s);
int	 c2s_sasl_scram_parse_first(const char *msg, size_t len, struct scram_first *f,
	     const char **why);

/* sasl_plain.c */
void	 c2s_sasl_plain_message(struct c2s_sasl *s, const char *b64);
void	 c2s_sasl_plain_cleanup(struct c2s_sasl *s);

/* sasl_throttle.c */
struct c2s_sasl_tbl *c2s_sasl_tbl_new(const char *what, uint64_t max_ms);
void	 c2s_sasl_tbl_config(struct c2s_sasl_tbl *t, unsigned after, uint64_t base_ms,
	     uint64_t max_ms);
void	 c2s_sasl_tbl_free(struct c2s_sasl_tbl *t);
/* ms before the next attempt for key may proceed, 0 for now. */
uint64_t c2s_sasl_tbl_wait(struct c2s_sasl_tbl *t, const char *key, uint64_t now);
void	 c2s_sasl_tbl_fail(struct c2s_sasl_tbl *t, const char *key, uint64_t now);
void	 c2s_sasl_tbl_clear(struct c2s_sasl_tbl *t, const char *key, uint64_t now);

#endif
