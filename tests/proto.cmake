#  proto tests: the frame codec's Check suite, the fuzz-corpus replay (always
#  built) and, with MEGLE_FUZZ=ON under clang, a bounded libFuzzer run
#  (megle_fuzz_target in tests/CMakeLists.txt).

megle_unit_test (test_frame megle_proto PkgConfig::CJSON)

#  frame.c is compiled into the fuzzer itself so that libFuzzer's coverage
#  instrumentation sees the decoder.
megle_fuzz_target (frame
    SOURCES fuzz_frame.c ${PROJECT_SOURCE_DIR}/proto/frame.c
    INCLUDES ${PROJECT_SOURCE_DIR}/proto
    LIBS PkgConfig::MSGPACK PkgConfig::CJSON
    REPLAY_LIBS megle_proto PkgConfig::CJSON
    CORPUS corpus/frame
    MAX_LEN 4096)
