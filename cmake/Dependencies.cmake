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

# cpp-httplib 0.11 takes a chunked body followed by trailer fields (RFC 9112 section 7.1.2) for a
# broken answer, and etcd's JSON gateway sends a trailer with every error it answers. The build
# uses a copy of the header whose chunked reader skips trailer fields, as cpp-httplib's own
# does from 0.14 on; a header that already does is used as it is.
file(READ ${LAMEDUCK_HTTPLIB_HEADER_DIR}/httplib.h httplib_source)
set(httplib_terminator_check [==[
    if (!line_reader.getline() || strcmp(line_reader.ptr(), "\r\n"))
      return false;
]==])
set(httplib_trailer_skip [==[
    // Trailer fields, if any, up to the empty line that ends the message.
    do {
      if (!line_reader.getline()) { return false; }
    } while (strcmp(line_reader.ptr(), "\r\n"));
]==])
string(FIND "${httplib_source}" "${httplib_terminator_check}" httplib_check_at)
if(NOT httplib_check_at EQUAL -1)
  string(REPLACE "${httplib_terminator_check}" "${httplib_trailer_skip}" httplib_source "${httplib_source}")
  file(WRITE ${CMAKE_BINARY_DIR}/httplib/httplib.h "${httplib_source}")
  set(LAMEDUCK_HTTPLIB_HEADER_DIR ${CMAKE_BINARY_DIR}/httplib)
endif()

# cpp-httplib for plain HTTP only: the client of readyz-toggle and drain-wait, which speak
# HTTP over the pod's own network and need no OpenSSL in their executables.
add_library(lameduck_httplib_plain INTERFACE)
target_include_directories(lameduck_httplib_plain SYSTEM INTERFACE ${LAMEDUCK_HTTPLIB_HEADER_DIR})
# cpp-httplib listens with a backlog of 5: a burst of connections beyond it (probes from a busy
# kubelet, a rollout's prestops against the test API server) waits out a SYN retransmit, 1 s.
target_compile_definitions(lameduck_httplib_plain INTERFACE CPPHTTPLIB_LISTEN_BACKLOG=128)
target_link_libraries(lameduck_httplib_plain INTERFACE Threads::Threads ${CMAKE_DL_LIBS})

# cpp-httplib with TLS: prestop talks to the API server and to etcd over https.
add_library(lameduck_httplib INTERFACE)
target_compile_definitions(lameduck_httplib INTERFACE CPPHTTPLIB_OPENSSL_SUPPORT)
target_link_libraries(lameduck_httplib INTERFACE lameduck_httplib_plain OpenSSL::SSL OpenSSL::Crypto)

if(LAMEDUCK_BUILD_TESTS)
  find_package(doctest 2.4 REQUIRED)
endif()
