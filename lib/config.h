/*
 * config.h: the configuration files (etc/c2s.xml, ...) loaded into a tree, and
 * typed values read from it with errors that name the file, the line and
 * the bad value:
 *
 *   etc/c2s.xml:14: <port>: "70000" is not a port (1-65535)
 *
 * On top of plain XML (comments allowed, DTDs and entity declarations
 * refused) a config file may use:
 *
 *   <include file='conf.d/[0-9]*.xml'/>
 *	The element children of each matched file's root element (whatever
 *	its name) are spliced in at that place, files in sorted order. The
 *	path is relative to the including file's directory. A pattern
 *	(* ? [) may match nothing; a plain name must exist. Cycles and
 *	nesting deeper than SB_CONFIG_MAX_INCLUDE are errors. Nodes remember
 *	the file they come from, for messages and relative paths.
 *   ${VAR}		the environment variable VAR; unset is an error
 *   ${VAR:-default}	VAR, or default when VAR is unset or empty (the
 *			default may itself hold ${...})
 *   $$			a literal $. A $ followed by anything other than {
 *			or $ is kept as it is, so "pa$word" needs no escape.
 * Expansion applies to attribute values and text, never to names.
 * Text is trimmed of surrounding white space before expansion.
 *
 * Everything (tree, strings, resolved paths) is owned by the struct
 * sb_config and freed by sb_config_free(); values handed out stay valid
 * until then.
 *
 * Values are read either one by one (sb_config_get_*) or for a whole
 * section in one call from a table (sb_config_apply):
 *
 *	#define F(path, type, member, ...) \
 *		SB_CONFIG_FIELD(path, type, struct c2s_conf, member, __VA_ARGS__)
 *	static const struct sb_config_field c2s_fields[] = {
 *		F("port", SB_CONFIG_PORT, port, "5222"),
 *		F("idle", SB_CONFIG_DURATION, idle_ms, "5m", .min = 1000),
 *		F("tls/certificate", SB_CONFIG_PATH, cert, NULL, .flags = SB_CONFIG_REQUIRED),
 *		{ .path = "listen", .type = SB_CONFIG_SECTION },
 *		SB_CONFIG_END
 *	};
 *	if (sb_config_apply(root, c2s_fields, &conf, SB_CONFIG_STRICT, err, sizeof(err)) == -1)
 *		fatal("%s", err);
 *
 * A path names a value below a node: "port" (text of the child <port>),
 * "tls/certificate" (text of <certificate> inside <tls>), "@name" (the
 * node's own attribute), "listen@port" (attribute of the child <listen>),
 * "." (the node's own text). A single value given twice is an error.
 */
#ifndef SB_CONFIG_H
#define SB_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define SB_CONFIG_MAX_INCLUDE	16		/* nesting depth of includes */
#define SB_CONFIG_MAX_FILE	(1024 * 1024)	/* bytes per file */

struct sb_config;
struct sb_config_node;

/*
 * Value types, and what a field of each type points at:
 *   STR      const char *   (min/max: length limits)
 *   INT      int            (min/max: range; both 0 means any int)
 *   PORT     int            1-65535
 *   BOOL     int            yes/no true/false on/off 1/0 -> 1/0
 *   DURATION int64_t        milliseconds, from "500ms" "30s" "5m" "2h" "1d"
 *                           or sums like "1h30m"; a bare "0" is allowed
 *   SIZE     size_t         bytes, from "512" "64k" "10M" "10MB" "1GiB"
 *                           (k, M, G, T are powers of 1024)
 *   ENUM     int            the value of the matching name in .names
 *   PATH     const char *   absolute: relative paths are taken from the
 *                           directory of the file the value was written in
 *   CUSTOM   whatever .parse writes
 *   SECTION  nothing: an element handled elsewhere (for example repeated
 *            <listen> blocks applied one by one); declares it known to
 *            SB_CONFIG_STRICT, with any content, any number of times
 */
enum sb_config_type {
	SB_CONFIG_STR,
	SB_CONFIG_INT,
	SB_CONFIG_PORT,
	SB_CONFIG_BOOL,
	SB_CONFIG_DURATION,
	SB_CONFIG_SIZE,
	SB_CONFIG_ENUM,
	SB_CONFIG_PATH,
	SB_CONFIG_CUSTOM,
	SB_CONFIG_SECTION,
};

struct sb_config_enum {
	const char	*name;		/* matched without regard to case */
	int		 value;
};

/*
 * A CUSTOM parser: store the parsed value at out and return 0, or return
 * -1 with a reason such as "is not a JID" in why; the caller adds
 * file:line: <name>: "value" in front.
 */
typedef int sb_config_parse_fn(const struct sb_config_node *n, const char *value,
	    void *out, char *why, size_t whylen);

/* <log level='...'/> of every process: error, warn, notice, info, debug (log.h). */
extern const struct sb_config_enum sb_config_log_levels[];

/* Field flags. */
#define SB_CONFIG_REQUIRED	0x01	/* absent is an error (a default is then ignored) */

struct sb_config_field {
	const char			*path;
	enum sb_config_type		 type;
	size_t				 offset;	/* offsetof() the target field */
	const char			*def;		/* default as config text; NULL: none */
	long long			 min, max;	/* ranges; both 0: the type's own */
	const struct sb_config_enum	*names;		/* ENUM: ends with { NULL } */
	sb_config_parse_fn		*parse;		/* CUSTOM */
	unsigned			 flags;
};

/*
 * One table line: path, type, the struct and its member, then the default
 * (NULL for none) and optionally more designated fields:
 *	SB_CONFIG_FIELD("workers", SB_CONFIG_INT, struct c2s_conf, workers, "2",
 *	    .min = 1, .max = 64),
 * (Designated initializers keep -Wmissing-field-initializers quiet.)
 */
#define SB_CONFIG_FIELD(path_, type_, struct_, member_, ...)			\
	{ .path = (path_), .type = (type_), .offset = offsetof(struct_, member_),	\
	  .def = __VA_ARGS__ }
#define SB_CONFIG_END	{ .path = NULL }

/* sb_config_apply() flags. */
#define SB_CONFIG_STRICT	0x01	/* elements/attributes no field names are errors */
#define SB_CONFIG_ALL_ERRORS	0x02	/* report every error, one per line, not the first */

/* The first of the n paths that can be read, else the last (for its error). */
const char *sb_config_default_path(const char *const *paths, size_t n);
/* The file name in the directory of path, allocated: ("etc/sm.xml", "switchboard.xml"). */
char	*sb_config_sibling(const char *path, const char *name);

/* Loading. Errors: "file:line: what", 0 or -1. */
int	 sb_config_load(struct sb_config **cfgp, const char *path, char *err, size_t errlen);
/* Same from memory; name is used in messages and to resolve includes and paths. */
int	 sb_config_load_string(struct sb_config **cfgp, const char *name, const char *text,
	    size_t len, char *err, size_t errlen);
void	 sb_config_free(struct sb_config *cfg);

/* Navigation. name NULL means any element. */
const struct sb_config_node *sb_config_root(const struct sb_config *cfg);
const struct sb_config_node *sb_config_child(const struct sb_config_node *n, const char *name);
const struct sb_config_node *sb_config_next(const struct sb_config_node *n, const char *name);
/* How many children named name n has. */
size_t	 sb_config_count(const struct sb_config_node *n, const char *name);
/* The first element matching path ("tls/certificate"), or NULL. */
const struct sb_config_node *sb_config_find(const struct sb_config_node *n, const char *path);
const char *sb_config_name(const struct sb_config_node *n);
const char *sb_config_text(const struct sb_config_node *n);	/* "" when none */
const char *sb_config_attr(const struct sb_config_node *n, const char *name); /* NULL: absent */
const char *sb_config_file(const struct sb_config_node *n);	/* as given / as included */
int	 sb_config_line(const struct sb_config_node *n);

/*
 * Typed values. When the path is absent, *out gets the default and 0 is
 * returned; -1 means a bad or duplicated value, explained in err. For
 * sb_config_get_int, min and max both 0 mean any int.
 */
int	 sb_config_get_str(const struct sb_config_node *n, const char *path,
	    const char *def, const char **out, char *err, size_t errlen);
int	 sb_config_get_int(const struct sb_config_node *n, const char *path,
	    int def, int min, int max, int *out, char *err, size_t errlen);
int	 sb_config_get_port(const struct sb_config_node *n, const char *path,
	    int def, int *out, char *err, size_t errlen);
int	 sb_config_get_bool(const struct sb_config_node *n, const char *path,
	    int def, int *out, char *err, size_t errlen);
int	 sb_config_get_duration(const struct sb_config_node *n, const char *path,
	    int64_t def_ms, int64_t *out_ms, char *err, size_t errlen);
int	 sb_config_get_size(const struct sb_config_node *n, const char *path,
	    size_t def, size_t *out, char *err, size_t errlen);
int	 sb_config_get_enum(const struct sb_config_node *n, const char *path,
	    const struct sb_config_enum *names, int def, int *out, char *err, size_t errlen);
/* def, when relative, is taken from the directory of n's file. */
int	 sb_config_get_path(const struct sb_config_node *n, const char *path,
	    const char *def, const char **out, char *err, size_t errlen);
/*
 * One field, out pointing at the value itself (not at a struct); the
 * default is f->def, parsed like config text.
 */
int	 sb_config_get(const struct sb_config_node *n, const struct sb_config_field *f,
	    void *out, char *err, size_t errlen);

/*
 * Apply a table (ended by SB_CONFIG_END) to the struct at base: each
 * field is read from below n, or gets its default; an absent field
 * without default keeps what the struct held. Returns -1 on the first
 * error, or after all of them (one per line in err) with
 * SB_CONFIG_ALL_ERRORS.
 *
 * SB_CONFIG_STRICT is the section's opt-in against typos: every element
 * and attribute below n must be on some field's path, except inside
 * SECTION elements, whose content is checked when their own table is
 * applied to each of them.
 */
int	 sb_config_apply(const struct sb_config_node *n, const struct sb_config_field *fields,
	    void *base, unsigned flags, char *err, size_t errlen);

/*
 * Every <name> child of parent (NULL: none) into a new array, in arena, of
 * *countp structs of size bytes (one more, zeroed, for a default a caller
 * may put there), each filled by applying fields (SB_CONFIG_STRICT).
 */
struct sb_arena;
int	 sb_config_apply_all(const struct sb_config_node *parent, const char *name,
	    const struct sb_config_field *fields, struct sb_arena *arena, size_t size,
	    void **arrayp, size_t *countp, char *err, size_t errlen);
/*
 * sb_config_apply_all for elements that name a domain: the const char *
 * at name_off in each struct becomes its canonical form (IDNA2008, lower
 * case; sb_jid_prepare), and a domain given twice is an error.
 */
int	 sb_config_domains(const struct sb_config_node *parent, const char *name,
	    const struct sb_config_field *fields, struct sb_arena *arena, size_t size,
	    size_t name_off, void **arrayp, size_t *countp, char *err, size_t errlen);
/* The canonical form of the domain *name (read from n) into arena: 0, or -1 with err. */
int	 sb_config_domain_canon(const struct sb_config_node *n, struct sb_arena *arena,
	    const char **name, char *err, size_t errlen);

/* "file:line: <name>: message" into err, for a caller's own checks; returns -1. */
int	 sb_config_errorf(const struct sb_config_node *n, char *err, size_t errlen,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* The value syntaxes, for other readers (command lines): 0 or -1. */
int	 sb_config_parse_bool(const char *s, int *out);
int	 sb_config_parse_duration(const char *s, int64_t *ms);
int	 sb_config_parse_size(const char *s, size_t *bytes);

#endif
