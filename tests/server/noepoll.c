/*
 * noepoll.c - an LD_PRELOAD shim for the tests: epoll cannot be created, as
 * on a kernel built without it (CONFIG_EPOLL=n), so that the failure path of
 * muxserver --list-backends runs for real.
 */
#include <errno.h>
#include <sys/epoll.h>

int epoll_create1(int flags)
{
	(void)flags;
	errno = ENOSYS;
	return -1;
}

int epoll_create(int size)
{
	(void)size;
	errno = ENOSYS;
	return -1;
}
