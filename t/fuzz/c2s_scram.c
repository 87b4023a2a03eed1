/*
 * c2s_scram.c: libFuzzer target for the SCRAM client-first-message parser
 * of c2s (c2s_sasl_scram_parse_first in c2s/sasl_scram.c), which reads what
 * an unauthenticated client sends before anything else looks at it.
 *
 * Properties: no crash, no leak, nothing read past the input; on success
 * the channel-binding flag is n, y or p, a 'p' type lies inside the input,
 * the gs2 header fits in the input, and the username is a non-empty string.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "c2s/sasl_priv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct scram_first f;
	const char *why = NULL;
	/* An exact-size copy: ASan catches any read past the end. */
	char *msg = malloc(size ? size : 1);

	memcpy(msg, data, size);
	if (c2s_sasl_scram_parse_first(msg, size, &f, &why) == 0) {
		if (f.cbflag != 'n' && f.cbflag != 'y' && f.cbflag != 'p')
			abort();
		if (f.cbflag == 'p' && (f.cbname < msg || f.cbname + f.cbname_len > msg + size))
			abort();
		if (f.gs2_len > size || f.user == NULL || f.user[0] == '\0' || f.authzid == NULL)
			abort();
		free(f.authzid);
		free(f.user);
	} else if (why == NULL) {
		abort();	/* a refusal always says why */
	}
	free(msg);
	return 0;
}
