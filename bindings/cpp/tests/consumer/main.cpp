// Built against an installed mongoelector through find_package; takes a URI.
#include <mongoelector.hpp>

#include <cstdio>
#include <mutex>
#include <string>

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s URI DB\n", argv[0]);
        return 64;
    }
    try {
        mongoelector::Client client(argv[1]);
        mongoelector::Locker lock(client, argv[2], "consumer");
        {
            std::lock_guard<mongoelector::Locker> guard(lock);
            if (!lock.owned()) return 2;
        }
        if (lock.locked()) return 3;
        std::printf("consumer: mongoelector %s, fence %lld\n", mongoelector::version().c_str(),
                    static_cast<long long>(lock.fence()));
    } catch (const mongoelector::Error& e) {
        std::fprintf(stderr, "consumer: %s: %s\n", e.status_name(), e.what());
        return 1;
    }
    return 0;
}
