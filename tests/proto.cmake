#  proto tests: the frame codec's Check suite, the fuzz-corpus replay (always
#  built) and, with MEGLE_FUZZ=ON under clang, a bounded libFuzzer run.

megle_unit_test (test_frame megle_proto PkgConfig::CJSON)

#  fuzz_frame.c without MEGLE_LIBFUZZER has a main() that replays files.
add_executable (fuzz_frame_replay fuzz_frame.c)
target_link_libraries (fuzz_frame_replay PRIVATE project_options megle_proto
                       PkgConfig::CJSON)
add_test (NAME fuzz.frame.replay
          COMMAND fuzz_frame_replay ${CMAKE_CURRENT_SOURCE_DIR}/corpus/frame)
set_tests_properties (fuzz.frame.replay PROPERTIES TIMEOUT 60)

if (MEGLE_FUZZ AND CMAKE_C_COMPILER_ID MATCHES "Clang")
    #  frame.c is compiled into the fuzzer itself so that libFuzzer's
    #  coverage instrumentation sees the decoder.
    add_executable (fuzz_frame fuzz_frame.c ${PROJECT_SOURCE_DIR}/proto/frame.c)
    target_include_directories (fuzz_frame PRIVATE ${PROJECT_SOURCE_DIR}/proto)
    target_compile_definitions (fuzz_frame PRIVATE MEGLE_LIBFUZZER)
    target_compile_options (fuzz_frame PRIVATE
                            -fsanitize=fuzzer,address,undefined)
    target_link_options (fuzz_frame PRIVATE
                         -fsanitize=fuzzer,address,undefined)
    target_link_libraries (fuzz_frame PRIVATE project_options
                           PkgConfig::MSGPACK PkgConfig::CJSON)

    #  The fuzzer adds what it finds to its corpus: give it a copy in the
    #  build tree, never the committed one.
    set (fuzz_frame_corpus ${CMAKE_CURRENT_BINARY_DIR}/fuzz-corpus/frame)
    add_test (NAME fuzz.frame.corpus
              COMMAND ${CMAKE_COMMAND} -E copy_directory
                      ${CMAKE_CURRENT_SOURCE_DIR}/corpus/frame
                      ${fuzz_frame_corpus})
    set_tests_properties (fuzz.frame.corpus PROPERTIES
                          FIXTURES_SETUP fuzz_frame_corpus)
    add_test (NAME fuzz.frame.run
              COMMAND fuzz_frame -max_total_time=20 -rss_limit_mb=1024
                      -max_len=4096 ${fuzz_frame_corpus}
              WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
    set_tests_properties (fuzz.frame.run PROPERTIES
                          FIXTURES_REQUIRED fuzz_frame_corpus TIMEOUT 120)
endif ()
