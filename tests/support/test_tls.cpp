#include "support/test_tls.hpp"

#include "support/process.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <stdexcept>

namespace lameduck::test {

namespace {

void openssl(std::vector<std::string> arguments, const std::string& dir) {
  arguments.insert(arguments.begin(), "/usr/bin/openssl");
  const auto result = run_process(arguments, {.environment = {}, .working_directory = dir, .stdin_text = {}});
  if (result.exit_code != 0) {
    throw std::runtime_error("openssl failed: " + result.stderr_text);
  }
}

// NAME.key and NAME.crt for `subject`, signed by the CA in `dir`, with the extensions file.
void issue(const std::string& name, const std::string& subject, const std::string& extensions, const std::string& dir) {
  openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", subject, "-keyout",
           name + ".key", "-out", name + ".csr"},
          dir);
  openssl({"x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
           "-extfile", extensions, "-out", name + ".crt"},
          dir);
}

TestCertificates make_certificates() {
  std::string pattern = (std::filesystem::temp_directory_path() / "lameduck-tls-XXXXXX").string();
  const std::string dir = ::mkdtemp(pattern.data());
  // clientAuth too: etcd's JSON gateway connects to its own gRPC port with the server's
  // certificate when members require client certificates.
  std::ofstream(dir + "/san.ext") << "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\n"
                                     "extendedKeyUsage=serverAuth,clientAuth\n";
  std::ofstream(dir + "/client.ext") << "extendedKeyUsage=clientAuth\n";
  openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
           "-subj", "/CN=lameduck test CA", "-keyout", "ca.key", "-out", "ca.crt"},
          dir);
  issue("server", "/CN=kube-apiserver", "san.ext", dir);
  issue("client", "/CN=lameduck", "client.ext", dir);
  return {dir + "/ca.crt", dir + "/server.crt", dir + "/server.key", dir + "/client.crt", dir + "/client.key"};
}

} // namespace

const TestCertificates& test_certificates() {
  static const TestCertificates certificates = make_certificates();
  static const struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ignored;
      std::filesystem::remove_all(dir, ignored);
    }
  } cleanup{std::filesystem::path(certificates.ca_file).parent_path().string()};
  return certificates;
}

} // namespace lameduck::test
