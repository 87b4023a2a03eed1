/*
 * log.c: tests for lib/log.c: level names and filtering, the sink, and
 * that peer data cannot break a log line in two.
 */
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "tap.h"

static char last[4096];
static enum sb_log_level last_level;
static int lines;

static void
sink(enum sb_log_level level, const char *line, void *arg)
{
	snprintf(last, sizeof(last), "%s", line);
	last_level = level;
	lines++;
}

int
main(void)
{
	enum sb_log_level l;
	char big[5000];
	int fds[2];
	char out[512];
	ssize_t n;

	ok(sb_log_level_parse("warn", &l) == 0 && l == SB_LOG_WARN, "parse 'warn'");
	ok(sb_log_level_parse("DEBUG", &l) == 0 && l == SB_LOG_DEBUG, "parse is case-insensitive");
	ok(sb_log_level_parse("loud", &l) == -1, "unknown level refused");
	is_str(sb_log_level_name(SB_LOG_NOTICE), "notice", "level name");

	sb_log_open("test", 0, SB_LOG_INFO);
	sb_log_set_sink(sink, NULL);
	log_info("hello %d", 42);
	is_str(last, "hello 42", "message formatted");
	is_int(last_level, SB_LOG_INFO, "level passed to the sink");
	lines = 0;
	log_debug("hidden");
	is_int(lines, 0, "below the level: nothing");
	sb_log_set_level(SB_LOG_DEBUG);
	log_debug("shown");
	is_int(lines, 1, "after raising the level: logged");

	log_warn("peer said: %s", "a\nb\rc\td\x01" "e\x7f");
	is_str(last, "peer said: a\\nb\\rc\\td\\x01e\\x7f", "control characters escaped: one line");
	log_warn("utf-8 \xe4\xbd\xa0\xe5\xa5\xbd stays");
	is_str(last, "utf-8 \xe4\xbd\xa0\xe5\xa5\xbd stays", "UTF-8 kept as it is");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_warn("%s", big);
	ok(strlen(last) > 1000 && strlen(last) < sizeof(big), "a huge message is cut, not overflowed");

	/* stderr format: timestamp, process[pid], level, message, one line. */
	sb_log_set_sink(NULL, NULL);
	if (pipe(fds) == 0) {
		int saved = dup(2);

		dup2(fds[1], 2);
		log_notice("to stderr\nsecond");
		fflush(stderr);
		dup2(saved, 2);
		close(fds[1]);
		n = read(fds[0], out, sizeof(out) - 1);
		out[n > 0 ? n : 0] = '\0';
		ok(strstr(out, " test[") != NULL && strstr(out, "] notice: to stderr\\nsecond\n") != NULL,
		    "stderr line: process[pid] level: message");
		ok(strchr(out, '\n') == out + strlen(out) - 1, "exactly one line");
		ok(out[4] == '-' && out[10] == 'T' && strstr(out, "Z test[") != NULL, "UTC timestamp");
	}
	return done_testing();
}
