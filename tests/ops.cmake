#  operations tests: the Prometheus text helpers, TURN credentials (checked
#  against openssl's own HMAC) and the matcher's HTTP request-head decoder:
#  its Check suite, the fuzz-corpus replay (always built) and, with
#  MEGLE_FUZZ=ON under clang, a bounded libFuzzer run (megle_fuzz_target in
#  tests/CMakeLists.txt). The integration test it.ops is in
#  integration.cmake.

megle_unit_test (test_metrics megle_common)
megle_unit_test (test_turn megle_common PkgConfig::CJSON)
megle_unit_test (test_http_request megle_common)

#  http_request.c is compiled into the fuzzer itself so that libFuzzer's
#  coverage instrumentation sees the decoder.
megle_fuzz_target (httpreq
    SOURCES fuzz_httpreq.c ${PROJECT_SOURCE_DIR}/common/http_request.c
    CORPUS corpus/httpreq
    MAX_LEN 5000
    INCLUDES ${PROJECT_SOURCE_DIR}/common
    REPLAY_LIBS megle_common)
