//  test_listener - the gateway's own listening socket: it binds the address
//  it is given (not every address), shares the port only with
//  SO_REUSEPORT, and readies accepted connections (TCP_NODELAY: without it
//  every small reply waited ~40 ms for a delayed ACK).

#define _DEFAULT_SOURCE

#include "listener.h"
#include "check_main.h"

#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

//  A TCP socket connected to 127.0.0.1:port, or -1.
static int
s_connect (int port)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr;
    memset (&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons ((uint16_t) port);
    addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    if (fd >= 0 && connect (fd, (struct sockaddr *) &addr, sizeof addr)) {
        close (fd);
        return -1;
    }
    return fd;
}

//  The listening descriptor of a listener that lws does not own yet: the
//  one of the process's descriptors bound to port in LISTEN state.
static int
s_listening_fd (int port)
{
    for (int fd = 3; fd < 1024; fd++) {
        struct sockaddr_in addr;
        socklen_t len = sizeof addr;
        int listening = 0;
        socklen_t size = sizeof listening;
        if (getsockname (fd, (struct sockaddr *) &addr, &len) == 0
            && addr.sin_family == AF_INET && ntohs (addr.sin_port) == port
            && getsockopt (fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &size)
                   == 0
            && listening)
            return fd;
    }
    return -1;
}

START_TEST (test_binds_the_given_address)
{
    listener_t *listener = listener_new ("127.0.0.1", 0, false);
    ck_assert_ptr_nonnull (listener);
    int port = listener_port (listener);
    ck_assert_int_gt (port, 0);
    int fd = s_listening_fd (port);
    ck_assert_int_ge (fd, 0);
    struct sockaddr_in addr;
    socklen_t len = sizeof addr;
    ck_assert_int_eq (getsockname (fd, (struct sockaddr *) &addr, &len), 0);
    ck_assert_uint_eq (ntohl (addr.sin_addr.s_addr), INADDR_LOOPBACK);
    listener_destroy (&listener);
    ck_assert_ptr_null (listener);
}
END_TEST

START_TEST (test_port_shared_only_with_reuseport)
{
    listener_t *a = listener_new ("127.0.0.1", 0, true);
    ck_assert_ptr_nonnull (a);
    int port = listener_port (a);
    listener_t *b = listener_new ("127.0.0.1", port, true);
    ck_assert_ptr_nonnull (b);
    listener_t *c = listener_new ("127.0.0.1", port, false);
    ck_assert_ptr_null (c);
    listener_destroy (&b);
    listener_destroy (&a);

    listener_t *d = listener_new ("127.0.0.1", 0, false);
    ck_assert_ptr_nonnull (d);
    listener_t *e = listener_new ("127.0.0.1", listener_port (d), false);
    ck_assert_ptr_null (e);
    listener_destroy (&d);
}
END_TEST

START_TEST (test_accepted_connection_prepared)
{
    listener_t *listener = listener_new ("127.0.0.1", 0, false);
    ck_assert_ptr_nonnull (listener);
    int port = listener_port (listener);
    int client = s_connect (port);
    ck_assert_int_ge (client, 0);
    int conn = accept (s_listening_fd (port), NULL, NULL);
    ck_assert_int_ge (conn, 0);
    int nodelay = 0;
    socklen_t size = sizeof nodelay;
    ck_assert_int_eq (
        getsockopt (conn, IPPROTO_TCP, TCP_NODELAY, &nodelay, &size), 0);
    ck_assert_int_eq (nodelay, 0); //  the kernel's default
    ck_assert_int_eq (listener_prepare (conn), 0);
    ck_assert_int_eq (
        getsockopt (conn, IPPROTO_TCP, TCP_NODELAY, &nodelay, &size), 0);
    ck_assert_int_ne (nodelay, 0);
    ck_assert_int_ne (fcntl (conn, F_GETFL) & O_NONBLOCK, 0);
    ck_assert_int_ne (fcntl (conn, F_GETFD) & FD_CLOEXEC, 0);
    close (conn);
    close (client);
    listener_destroy (&listener);
}
END_TEST

static Suite *
s_suite (void)
{
    Suite *suite = suite_create ("listener");
    TCase *tc = tcase_create ("core");
    tcase_add_test (tc, test_binds_the_given_address);
    tcase_add_test (tc, test_port_shared_only_with_reuseport);
    tcase_add_test (tc, test_accepted_connection_prepared);
    suite_add_tcase (suite, tc);
    return suite;
}

MEGLE_CHECK_MAIN (s_suite)
