#  envelope tests: the browser JSON envelope's Check suite, the fuzz-corpus
#  replay (always built) and, with MEGLE_FUZZ=ON under clang, a bounded
#  libFuzzer run (megle_fuzz_target in tests/CMakeLists.txt).

megle_unit_test (test_envelope megle_envelope)

#  envelope.c is compiled into the fuzzer itself so that libFuzzer's
#  coverage instrumentation sees the parser.
megle_fuzz_target (envelope
    SOURCES fuzz_envelope.c ${PROJECT_SOURCE_DIR}/gateway/envelope.c
            ${PROJECT_SOURCE_DIR}/gateway/json_check.c
            ${PROJECT_SOURCE_DIR}/gateway/json_text.c
    INCLUDES ${PROJECT_SOURCE_DIR}/gateway
    LIBS PkgConfig::CJSON
    REPLAY_LIBS megle_envelope
    CORPUS corpus/envelope
    MAX_LEN 8192)
