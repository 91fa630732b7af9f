# Every dependency comes from Debian's packages; ./dev installs them.

find_package(Threads REQUIRED)
find_package(nlohmann_json 3.11 REQUIRED)
find_package(CLI11 2.1 REQUIRED)

if(LAMEDUCK_STATIC)
  set(OPENSSL_USE_STATIC_LIBS TRUE)
endif()
find_package(OpenSSL 3 REQUIRED)

# Debian's libcpp-httplib-dev is a split shared library; the static tools need the header-only
# httplib.h from Debian's source package (./dev fetches it into .deps/).
find_path(LAMEDUCK_HTTPLIB_HEADER_DIR httplib.h HINTS ${LAMEDUCK_HTTPLIB_INCLUDE_DIR} NO_DEFAULT_PATH)
if(NOT LAMEDUCK_HTTPLIB_HEADER_DIR)
  message(FATAL_ERROR "httplib.h not found: run ./dev deps, or set LAMEDUCK_HTTPLIB_INCLUDE_DIR")
endif()

# The build expects Debian 12's cpp-httplib 0.11.4+ds (./dev fetches that version), and carries
# one reviewed fix to it as a patch: it must apply to the header found, or already be applied
# there; anything else stops the build rather than building on an unpatched reader.
set(LAMEDUCK_HTTPLIB_EXPECTED_VERSION "0.11.4")
set(httplib_patch ${CMAKE_CURRENT_LIST_DIR}/patches/cpp-httplib-0.11.4-chunked-trailers.patch)
file(STRINGS ${LAMEDUCK_HTTPLIB_HEADER_DIR}/httplib.h httplib_version_line REGEX "^#define CPPHTTPLIB_VERSION ")
find_program(PATCH_EXECUTABLE patch REQUIRED)
# Patched in a scratch copy, then copied over only when different, so that configuring again
# does not touch the header every source includes (and rebuild them all).
set(httplib_scratch_dir ${CMAKE_BINARY_DIR}/httplib-patching)
set(httplib_patched_dir ${CMAKE_BINARY_DIR}/httplib)
file(REMOVE_RECURSE ${httplib_scratch_dir})
file(COPY ${LAMEDUCK_HTTPLIB_HEADER_DIR}/httplib.h DESTINATION ${httplib_scratch_dir})
execute_process(COMMAND ${PATCH_EXECUTABLE} --dry-run --reverse --force --silent -p1 -i ${httplib_patch}
                WORKING_DIRECTORY ${httplib_scratch_dir} RESULT_VARIABLE httplib_already_patched OUTPUT_QUIET ERROR_QUIET)
if(NOT httplib_already_patched EQUAL 0)
  execute_process(COMMAND ${PATCH_EXECUTABLE} --forward --silent -p1 -i ${httplib_patch}
                  WORKING_DIRECTORY ${httplib_scratch_dir} RESULT_VARIABLE httplib_patch_failed OUTPUT_VARIABLE httplib_patch_output
                  ERROR_VARIABLE httplib_patch_output)
  if(NOT httplib_patch_failed EQUAL 0)
    message(FATAL_ERROR "${httplib_patch} does not apply to ${LAMEDUCK_HTTPLIB_HEADER_DIR}/httplib.h "
                        "(${httplib_version_line}; expected ${LAMEDUCK_HTTPLIB_EXPECTED_VERSION}):\n${httplib_patch_output}")
  endif()
endif()
file(MAKE_DIRECTORY ${httplib_patched_dir})
file(COPY_FILE ${httplib_scratch_dir}/httplib.h ${httplib_patched_dir}/httplib.h ONLY_IF_DIFFERENT)
set(LAMEDUCK_HTTPLIB_HEADER_DIR ${httplib_patched_dir})

# cpp-httplib for plain HTTP only: the client of readyz-toggle and drain-wait, which speak
# HTTP over the pod's own network and need no OpenSSL in their executables.
add_library(lameduck_httplib_plain INTERFACE)
target_include_directories(lameduck_httplib_plain SYSTEM INTERFACE ${LAMEDUCK_HTTPLIB_HEADER_DIR})
# cpp-httplib listens with a backlog of 5: a burst of connections beyond it (probes from a busy
# kubelet, a rollout's prestops against the test API server) waits out a SYN retransmit, 1 s.
# MSG_NOSIGNAL: a write to a peer that has hung up returns EPIPE instead of raising SIGPIPE, even
# in a program that forgot to ignore the signal (the tools ignore it too, for OpenSSL's own writes).
target_compile_definitions(lameduck_httplib_plain INTERFACE CPPHTTPLIB_LISTEN_BACKLOG=128
                                                            CPPHTTPLIB_SEND_FLAGS=MSG_NOSIGNAL)
target_link_libraries(lameduck_httplib_plain INTERFACE Threads::Threads ${CMAKE_DL_LIBS})

# cpp-httplib with TLS: prestop talks to the API server and to etcd over https.
add_library(lameduck_httplib INTERFACE)
target_compile_definitions(lameduck_httplib INTERFACE CPPHTTPLIB_OPENSSL_SUPPORT)
target_link_libraries(lameduck_httplib INTERFACE lameduck_httplib_plain OpenSSL::SSL OpenSSL::Crypto)

if(LAMEDUCK_BUILD_TESTS)
  # 2.4.9: SUBCASEs inside a loop (each fault, each peer) run once per iteration from then on.
  find_package(doctest 2.4.9 REQUIRED)
endif()

# yaml-cpp for `lameduck lint`, which reads manifests; Debian ships its static library too, so
# the tool stays a single static executable like the others.
if(LAMEDUCK_STATIC)
  find_library(LAMEDUCK_YAML_CPP_LIBRARY NAMES libyaml-cpp.a)
else()
  find_library(LAMEDUCK_YAML_CPP_LIBRARY NAMES yaml-cpp)
endif()
find_path(LAMEDUCK_YAML_CPP_INCLUDE_DIR yaml-cpp/yaml.h)
if(NOT LAMEDUCK_YAML_CPP_LIBRARY OR NOT LAMEDUCK_YAML_CPP_INCLUDE_DIR)
  message(FATAL_ERROR "yaml-cpp not found: run ./dev deps (Debian's libyaml-cpp-dev)")
endif()
add_library(lameduck_yaml_cpp INTERFACE)
target_include_directories(lameduck_yaml_cpp SYSTEM INTERFACE ${LAMEDUCK_YAML_CPP_INCLUDE_DIR})
target_link_libraries(lameduck_yaml_cpp INTERFACE ${LAMEDUCK_YAML_CPP_LIBRARY})

# hiredis for the Redis checkpoint store (Debian's libhiredis-dev, whose static library keeps
# an agent that links it a single static executable).
if(LAMEDUCK_STATIC)
  find_library(LAMEDUCK_HIREDIS_LIBRARY NAMES libhiredis.a)
else()
  find_library(LAMEDUCK_HIREDIS_LIBRARY NAMES hiredis)
endif()
find_path(LAMEDUCK_HIREDIS_INCLUDE_DIR hiredis/hiredis.h)
if(NOT LAMEDUCK_HIREDIS_LIBRARY OR NOT LAMEDUCK_HIREDIS_INCLUDE_DIR)
  message(FATAL_ERROR "hiredis not found: run ./dev deps (Debian's libhiredis-dev)")
endif()
add_library(lameduck_hiredis INTERFACE)
target_include_directories(lameduck_hiredis SYSTEM INTERFACE ${LAMEDUCK_HIREDIS_INCLUDE_DIR})
target_link_libraries(lameduck_hiredis INTERFACE ${LAMEDUCK_HIREDIS_LIBRARY})
