// The examples build: examples/calc (busybox or scratch base) and examples/flask (Debian +
// python3-flask base from tests/fixtures, large: skipped when the fixture was not made).
#include <glob.h>

#include <cstdlib>

#include "build_test_util.h"

#include "common/fs.h"

namespace berth::buildtest {
namespace {

std::string firstMatch(const std::string& pattern) {
  glob_t g{};
  std::string out;
  if (::glob(pattern.c_str(), 0, nullptr, &g) == 0 && g.gl_pathc > 0) out = g.gl_pathv[0];
  ::globfree(&g);
  return out;
}

TEST_F(BuildTest, CalcExample) {
  std::string dir = std::string(BERTH_SOURCE_DIR) + "/examples/calc";
  if (!fs::exists(dir + "/Dockerfile")) GTEST_SKIP() << "examples/calc/Dockerfile not written yet";
  auto r = berth("build -t calc " + dir);
  ASSERT_EQ(r.code, 0) << r.output;
  auto img = resolve("calc");
  ASSERT_TRUE(img) << img.error().message();
  EXPECT_FALSE(img->config.config.cmd.empty() && img->config.config.entrypoint.empty());
  auto again = berth("build -t calc " + dir);
  ASSERT_EQ(again.code, 0) << again.output;
  EXPECT_EQ(countLines(again.output, "done in"), 0) << again.output;
  EXPECT_EQ(resolve("calc")->id, img->id);
}

TEST_F(BuildTest, FlaskExample) {
  const char* fx = std::getenv("BERTH_FIXTURES_DIR");  // override, e.g. a private fixture dir
  std::string fixtures = fx ? fx : std::string(BERTH_SOURCE_DIR) + "/build/fixtures";
  std::string base = firstMatch(fixtures + "/debian-flask*.tar*");
  if (base.empty())
    GTEST_SKIP() << "build/fixtures/debian-flask*.tar missing (tests/fixtures/make-debian-flask.sh "
                    "makes it via tests/fixtures/make-all.sh; ~220 MB, needs apt sources)";
  auto imp = berth("import " + base + " debian-flask:latest");
  ASSERT_EQ(imp.code, 0) << imp.output;
  std::string dir = std::string(BERTH_SOURCE_DIR) + "/examples/flask";
  auto r = berth("build -t flask-add " + dir);
  ASSERT_EQ(r.code, 0) << r.output;
  auto img = resolve("flask-add");
  ASSERT_TRUE(img) << img.error().message();
  const auto& c = img->config.config;
  EXPECT_EQ(c.workingDir, "/app");
  EXPECT_EQ(c.cmd, (std::vector<std::string>{"python3", "app.py"}));
  EXPECT_EQ(c.exposedPorts, (std::vector<std::string>{"80/tcp"}));
  auto app = imageFile("flask-add", "app/app.py");
  ASSERT_TRUE(app);
  EXPECT_NE(app->find("/add"), std::string::npos);
  EXPECT_FALSE(imageFile("flask-add", "app/Dockerfile").has_value());  // .dockerignore
  // The RUN step really ran python3 in the container: py_compile left its bytecode.
  auto cached = sh("ls " + root_ + "/images/snapshots/*/app/__pycache__/ 2>/dev/null | grep -c app");
  EXPECT_EQ(cached.output, "1\n") << cached.output;
}

}  // namespace
}  // namespace berth::buildtest
