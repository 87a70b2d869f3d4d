#  envelope tests: the browser JSON envelope's Check suite, the fuzz-corpus
#  replay (always built) and, with MEGLE_FUZZ=ON under clang, a bounded
#  libFuzzer run.

megle_unit_test (test_envelope megle_envelope)

#  fuzz_envelope.c without MEGLE_LIBFUZZER has a main() that replays files.
add_executable (fuzz_envelope_replay fuzz_envelope.c)
target_link_libraries (fuzz_envelope_replay PRIVATE project_options
                       megle_envelope)
add_test (NAME fuzz.envelope.replay
          COMMAND fuzz_envelope_replay ${CMAKE_CURRENT_SOURCE_DIR}/corpus/envelope)
set_tests_properties (fuzz.envelope.replay PROPERTIES TIMEOUT 60)

if (MEGLE_FUZZ AND CMAKE_C_COMPILER_ID MATCHES "Clang")
    #  envelope.c is compiled into the fuzzer itself so that libFuzzer's
    #  coverage instrumentation sees the parser.
    add_executable (fuzz_envelope fuzz_envelope.c
                    ${PROJECT_SOURCE_DIR}/gateway/envelope.c
                    ${PROJECT_SOURCE_DIR}/gateway/json_text.c)
    target_include_directories (fuzz_envelope PRIVATE
                                ${PROJECT_SOURCE_DIR}/gateway)
    target_compile_definitions (fuzz_envelope PRIVATE MEGLE_LIBFUZZER)
    target_compile_options (fuzz_envelope PRIVATE
                            -fsanitize=fuzzer,address,undefined)
    target_link_options (fuzz_envelope PRIVATE
                         -fsanitize=fuzzer,address,undefined)
    target_link_libraries (fuzz_envelope PRIVATE project_options
                           PkgConfig::CJSON)

    #  The fuzzer adds what it finds to its corpus: give it a copy in the
    #  build tree, never the committed one.
    set (fuzz_envelope_corpus ${CMAKE_CURRENT_BINARY_DIR}/fuzz-corpus/envelope)
    add_test (NAME fuzz.envelope.corpus
              COMMAND ${CMAKE_COMMAND} -E copy_directory
                      ${CMAKE_CURRENT_SOURCE_DIR}/corpus/envelope
                      ${fuzz_envelope_corpus})
    set_tests_properties (fuzz.envelope.corpus PROPERTIES
                          FIXTURES_SETUP fuzz_envelope_corpus)
    add_test (NAME fuzz.envelope.run
              COMMAND fuzz_envelope -max_total_time=20 -rss_limit_mb=1024
                      -max_len=8192 ${fuzz_envelope_corpus}
              WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
    set_tests_properties (fuzz.envelope.run PROPERTIES
                          FIXTURES_REQUIRED fuzz_envelope_corpus TIMEOUT 120)
endif ()
