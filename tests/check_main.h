//  check_main - the main() that every Check suite in tests/ ends with, so
//  that it is written once. A plain suite ends with
//
//      MEGLE_CHECK_MAIN (s_suite)
//
//  (no semicolon: an empty declaration at file scope is a -Wpedantic
//  warning). A suite whose main() does more (test_envelope's --bench mode,
//  test_lua's private redis-server) calls check_main_run () itself.
//
//  The output level is CK_NORMAL; Check's own CK_FORK, CK_VERBOSITY,
//  CK_RUN_SUITE and CK_RUN_CASE environment variables still apply (set
//  CK_FORK=no under gdb).

#ifndef MEGLE_CHECK_MAIN_H
#define MEGLE_CHECK_MAIN_H

#include <check.h>
#include <stdlib.h>

//  Runs suite (the runner takes ownership of it) and returns the exit
//  status for main(): EXIT_SUCCESS if every test passed, else EXIT_FAILURE.
static inline int
check_main_run (Suite *suite)
{
    SRunner *runner = srunner_create (suite);
    srunner_run_all (runner, CK_NORMAL);
    int failed = srunner_ntests_failed (runner);
    srunner_free (runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

//  main() for a suite built by suite_builder, a function of no arguments
//  that returns a new Suite *.
#define MEGLE_CHECK_MAIN(suite_builder)                                        \
    int main (void)                                                            \
    {                                                                          \
        return check_main_run (suite_builder ());                              \
    }

#endif
