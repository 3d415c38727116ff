// The header in a C++20 program (see tests/CMakeLists.txt).
#include <mongoelector.hpp>

#include <cstdio>
#include <string>

std::string double_include_a();
std::string double_include_b();

int main() {
    static_assert(__cplusplus >= 202002L, "built as C++20");
    std::string want_a = mongoelector::version() + "|from a";
    std::string want_b = mongoelector::version() + "|from b";
    if (double_include_a() != want_a || double_include_b() != want_b) {
        std::fprintf(stderr, "unexpected: %s / %s\n", double_include_a().c_str(), double_include_b().c_str());
        return 1;
    }
    std::printf("C++20 OK, mongoelector %s\n", mongoelector::version().c_str());
    return 0;
}
