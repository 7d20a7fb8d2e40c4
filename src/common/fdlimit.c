/* fdlimit.c - RLIMIT_NOFILE set to what a run needs, in one place. */
#include "fdlimit.h"

#include <errno.h>

int fdlimit_raise(rlim_t need, bool raise_hard, rlim_t *hard)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return -errno;
	if (hard)
		*hard = rl.rlim_max;
	if (rl.rlim_cur >= need)
		return 0;
	if (raise_hard && rl.rlim_max < need) {
		struct rlimit raised = { need, need };

		/* Needs CAP_SYS_RESOURCE; without it, fall back to what the hard limit allows. */
		if (setrlimit(RLIMIT_NOFILE, &raised) == 0) {
			if (hard)
				*hard = need;
			return 0;
		}
	}
	rl.rlim_cur = rl.rlim_max < need ? rl.rlim_max : need;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		return -errno;
	return rl.rlim_cur >= need ? 0 : -EMFILE;
}

int fdlimit_set(rlim_t soft)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return -errno;
	rl.rlim_cur = soft < rl.rlim_max ? soft : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		return -errno;
	return 0;
}
