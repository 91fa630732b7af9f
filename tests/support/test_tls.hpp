#pragma once

// A certificate authority, a server certificate for 127.0.0.1, ::1 and localhost, and a client
// certificate, made with the openssl command once per test process, so that TLS in tests is
// verified for real.

#include <string>

namespace lameduck::test {

struct TestCertificates {
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  std::string client_cert_file; // CN "lameduck", for servers that ask for a client certificate
  std::string client_key_file;
};

const TestCertificates& test_certificates();

} // namespace lameduck::test
