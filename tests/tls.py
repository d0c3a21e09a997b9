"""Certificates for TLS tests (loopback only): self-signed ones, and a small CA that
issues server and client certificates."""

import datetime
import ipaddress
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def write_self_signed_certificate(folder, name='server', host='127.0.0.1'):
    """Write a one-day self-signed CA certificate for ``host`` (and localhost) and its key.

    :param folder: where ``<name>.crt`` and ``<name>.key`` (PEM) are written.
    :param name: file stem and common name.
    :param host: the IP address the certificate is valid for.
    :returns: ``(cert_path, key_path)``.
    """
    now = datetime.datetime.now(datetime.timezone.utc)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.IPAddress(ipaddress.ip_address(host)), x509.DNSName('localhost')]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return _write_pem(folder, name, cert, key)


def _write_pem(folder, name, certificate, key):
    """Write ``<name>.crt`` and ``<name>.key`` (PEM); returns their paths."""
    cert_path = os.path.join(str(folder), name + '.crt')
    key_path = os.path.join(str(folder), name + '.key')
    with open(cert_path, 'wb') as out:
        out.write(certificate.public_bytes(serialization.Encoding.PEM))
    with open(key_path, 'wb') as out:
        out.write(key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    return cert_path, key_path


class CertificateAuthority:
    """A one-day test CA that issues server and client certificates (loopback only).

    :param folder: where ``<name>.crt``/``<name>.key`` files are written.
    :param name: the CA's common name and file stem.
    """

    def __init__(self, folder, name='test-ca'):
        self.folder = str(folder)
        self.name = name
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.timezone.utc)
        self.certificate = (
            x509.CertificateBuilder().subject_name(self.subject).issuer_name(self.subject)
            .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .sign(self.key, hashes.SHA256()))
        self.cert_path, _ = _write_pem(self.folder, name, self.certificate, self.key)

    def issue(self, name, host='127.0.0.1', client=False):
        """Issue a leaf certificate signed by this CA.

        :param name: common name and file stem.
        :param host: the IP address a server certificate is valid for.
        :param client: a client certificate (clientAuth) instead of a server one.
        :returns: ``(cert_path, key_path)``.
        """
        now = datetime.datetime.now(datetime.timezone.utc)
        key = ec.generate_private_key(ec.SECP256R1())
        usage = x509.oid.ExtendedKeyUsageOID
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(self.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None),
                           critical=True)
            .add_extension(x509.ExtendedKeyUsage(
                [usage.CLIENT_AUTH if client else usage.SERVER_AUTH]), critical=False))
        if not client:
            builder = builder.add_extension(x509.SubjectAlternativeName([
                x509.IPAddress(ipaddress.ip_address(host)), x509.DNSName('localhost')]),
                critical=False)
        return _write_pem(self.folder, name, builder.sign(self.key, hashes.SHA256()), key)
