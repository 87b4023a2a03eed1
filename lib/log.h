/*
 * log.h: one line per event, to stderr or syslog, tagged with the process.
 *
 *   2026-11-21T14:03:07.412Z c2s[4121] warn: 127.0.0.1:50432: not-well-formed: ...
 *
 * Control characters in a message (peer data often ends up there) are
 * escaped so that one event is always exactly one line.
 */
#ifndef SB_LOG_H
#define SB_LOG_H

#include <stdarg.h>

enum sb_log_level {
	SB_LOG_ERROR,	/* something is broken and needs an admin */
	SB_LOG_WARN,	/* a peer or a config did something wrong; we coped */
	SB_LOG_NOTICE,	/* normal but significant: start, stop, component up/down */
	SB_LOG_INFO,	/* per-connection events: login, logout, stream errors */
	SB_LOG_DEBUG,	/* everything else */
};

/* Where lines go. A sink (tests) receives the formatted message without stamp. */
typedef void sb_log_sink(enum sb_log_level level, const char *line, void *arg);

void	 sb_log_open(const char *process, int use_syslog, enum sb_log_level level);
void	 sb_log_set_level(enum sb_log_level level);
enum sb_log_level sb_log_get_level(void);
void	 sb_log_set_sink(sb_log_sink *sink, void *arg);
/* "error", "warn", "notice", "info", "debug": 0, or -1 when unknown. */
int	 sb_log_level_parse(const char *name, enum sb_log_level *out);
const char *sb_log_level_name(enum sb_log_level level);

void	 sb_log(enum sb_log_level level, const char *fmt, ...)
	     __attribute__((format(printf, 2, 3)));
void	 sb_vlog(enum sb_log_level level, const char *fmt, va_list ap)
	     __attribute__((format(printf, 2, 0)));
/* One line as stderr gets it (stamp, process, pid, level), without the newline. */
void	 sb_log_format(char *out, size_t cap, enum sb_log_level level, const char *line);
/* Log at error level and exit(1): only for broken invariants at start-up. */
_Noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define sb_log_enabled(l)	((l) <= sb_log_get_level())
#define log_error(...)	sb_log(SB_LOG_ERROR, __VA_ARGS__)
#define log_warn(...)	sb_log(SB_LOG_WARN, __VA_ARGS__)
#define log_notice(...)	sb_log(SB_LOG_NOTICE, __VA_ARGS__)
#define log_info(...)	sb_log(SB_LOG_INFO, __VA_ARGS__)
#define log_debug(...)	do { if (sb_log_enabled(SB_LOG_DEBUG)) \
				sb_log(SB_LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
