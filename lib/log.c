/*
 * log.c: logging (see log.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static struct {
	char			 process[32];
	int			 use_syslog;
	enum sb_log_level	 level;
	sb_log_sink		*sink;
	void			*sink_arg;
} logger = { "switchboard", 0, SB_LOG_NOTICE, NULL, NULL };

static const char *const level_names[] = {
	[SB_LOG_ERROR] = "error",
	[SB_LOG_WARN] = "warn",
	[SB_LOG_NOTICE] = "notice",
	[SB_LOG_INFO] = "info",
	[SB_LOG_DEBUG] = "debug",
};

static const int syslog_prio[] = {
	[SB_LOG_ERROR] = LOG_ERR,
	[SB_LOG_WARN] = LOG_WARNING,
	[SB_LOG_NOTICE] = LOG_NOTICE,
	[SB_LOG_INFO] = LOG_INFO,
	[SB_LOG_DEBUG] = LOG_DEBUG,
};

void
sb_log_open(const char *process, int use_syslog, enum sb_log_level level)
{
	snprintf(logger.process, sizeof(logger.process), "%s", process);
	logger.use_syslog = use_syslog;
	logger.level = level;
	if (use_syslog)
		openlog(logger.process, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
sb_log_set_level(enum sb_log_level level)
{
	logger.level = level;
}

enum sb_log_level
sb_log_get_level(void)
{
	return logger.level;
}

void
sb_log_set_sink(sb_log_sink *sink, void *arg)
{
	logger.sink = sink;
	logger.sink_arg = arg;
}

int
sb_log_level_parse(const char *name, enum sb_log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcasecmp(name, level_names[i]) == 0) {
			*out = (enum sb_log_level)i;
			return 0;
		}
	}
	return -1;
}

const char *
sb_log_level_name(enum sb_log_level level)
{
	return level <= SB_LOG_DEBUG ? level_names[level] : "?";
}

/* Escape control characters in place into out; keeps UTF-8 as it is. */
static void
escape_line(char *out, size_t cap, const char *in)
{
	size_t o = 0;

	for (; *in != '\0' && o + 5 < cap; in++) {
		unsigned char c = (unsigned char)*in;

		if (c >= 0x20 && c != 0x7f) {
			out[o++] = (char)c;
		} else if (c == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else if (c == '\r') {
			out[o++] = '\\';
			out[o++] = 'r';
		} else if (c == '\t') {
			out[o++] = '\\';
			out[o++] = 't';
		} else {
			o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
		}
	}
	out[o] = '\0';
}

void
sb_vlog(enum sb_log_level level, const char *fmt, va_list ap)
{
	char raw[4200], line[4096];

	if (level > logger.level)
		return;
	vsnprintf(raw, sizeof(raw), fmt, ap);
	escape_line(line, sizeof(line), raw);

	if (logger.sink != NULL) {
		logger.sink(level, line, logger.sink_arg);
		return;
	}
	if (logger.use_syslog) {
		syslog(syslog_prio[level], "%s: %s", level_names[level], line);
		return;
	}
	sb_log_format(raw, sizeof(raw), level, line);
	fprintf(stderr, "%s\n", raw);
}

void
sb_log_format(char *out, size_t cap, enum sb_log_level level, const char *line)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%ld] %s: %s",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, ts.tv_nsec / 1000000, logger.process, (long)getpid(),
	    level <= SB_LOG_DEBUG ? level_names[level] : "?", line);
}

void
sb_log(enum sb_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sb_vlog(level, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sb_vlog(SB_LOG_ERROR, fmt, ap);
	va_end(ap);
	exit(1);
}
